//! Dialog mode: choosing the signal and the target, then Cancel (the default) or Send.

use crate::app::dialog::Button;
use crate::app::keymap::Action;
use crate::app::{App, Effect};
use crate::model::Sig;

pub fn action(app: &mut App, a: Action) -> Vec<Effect> {
    if let Some(c) = &mut app.modes.close {
        match a {
            Action::Confirm => return app.confirm_close(),
            Action::Press => {
                if c.focus == Button::Send {
                    return app.confirm_close();
                }
                app.cancel_close();
            }
            Action::Cancel => app.cancel_close(),
            Action::Focus => {
                c.focus = match c.focus {
                    Button::Cancel => Button::Send,
                    Button::Send => Button::Cancel,
                }
            }
            _ => {}
        }
        return vec![];
    }
    let Some(d) = &mut app.modes.dialog else {
        app.modes.back_to_rest();
        return vec![];
    };
    if let Some(i) = a.signal_index() {
        d.choose(i.min(Sig::all().count() - 1));
        return vec![];
    }
    match a {
        Action::Confirm => return app.confirm_dialog(),
        Action::Press => {
            return match d.focus {
                Button::Send => app.confirm_dialog(),
                Button::Cancel => {
                    app.cancel_dialog();
                    vec![]
                }
            };
        }
        Action::Cancel => app.cancel_dialog(),
        Action::Down => d.choose(d.menu_index() + 1),
        Action::Up => d.choose(d.menu_index() + d.menu_len() - 1),
        Action::Focus => {
            d.focus = match d.focus {
                Button::Cancel => Button::Send,
                Button::Send => Button::Cancel,
            }
        }
        Action::NextTarget => {
            let count = d.targets.len();
            d.chosen = match d.chosen {
                Some(i) if i + 1 < count => Some(i + 1),
                Some(_) if count > 1 => None,
                _ => Some(0),
            };
        }
        _ => {}
    }
    vec![]
}
