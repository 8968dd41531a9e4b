//! Styles by role, from the theme's colours (or none, with NO_COLOR).

use crate::app::Theme;
use ratatui::style::{Modifier, Style};

pub struct Styles {
    pub header: Style,
    pub title: Style,
    pub new: Style,
    pub changed: Style,
    pub closed: Style,
    pub selected: Style,
    pub error: Style,
    pub key: Style,
    pub dim: Style,
    pub status: Style,
    pub column_header: Style,
    pub sorted_header: Style,
    pub tab_active: Style,
    pub flag_bad: Style,
    pub flag_warn: Style,
}

impl Styles {
    pub fn new(t: &Theme) -> Styles {
        if t.mono {
            let plain = Style::default();
            return Styles {
                header: plain,
                title: plain.add_modifier(Modifier::BOLD),
                new: plain.add_modifier(Modifier::BOLD),
                changed: plain.add_modifier(Modifier::ITALIC),
                closed: plain.add_modifier(Modifier::CROSSED_OUT | Modifier::DIM),
                selected: plain.add_modifier(Modifier::REVERSED),
                error: plain.add_modifier(Modifier::BOLD),
                key: plain.add_modifier(Modifier::BOLD),
                dim: plain,
                status: plain.add_modifier(Modifier::BOLD),
                column_header: plain.add_modifier(Modifier::UNDERLINED),
                sorted_header: plain.add_modifier(Modifier::UNDERLINED | Modifier::BOLD),
                tab_active: plain.add_modifier(Modifier::REVERSED),
                flag_bad: plain.add_modifier(Modifier::BOLD),
                flag_warn: plain,
            };
        }
        Styles {
            header: Style::default().fg(t.header),
            title: Style::default().fg(t.title).add_modifier(Modifier::BOLD),
            new: Style::default().fg(t.new),
            changed: Style::default().fg(t.changed),
            closed: Style::default()
                .fg(t.closed)
                .add_modifier(Modifier::CROSSED_OUT),
            selected: Style::default().fg(t.selected_fg).bg(t.selected_bg),
            error: Style::default().fg(t.error).add_modifier(Modifier::BOLD),
            key: Style::default().fg(t.hint_key).add_modifier(Modifier::BOLD),
            dim: Style::default().fg(t.dim),
            status: Style::default().fg(t.title),
            column_header: Style::default().fg(t.header).add_modifier(Modifier::BOLD),
            sorted_header: Style::default()
                .fg(t.title)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            tab_active: Style::default()
                .fg(t.selected_fg)
                .bg(t.selected_bg)
                .add_modifier(Modifier::BOLD),
            flag_bad: Style::default().fg(t.flag_bad).add_modifier(Modifier::BOLD),
            flag_warn: Style::default().fg(t.flag_warn),
        }
    }
}
