//! A header line made of items, each in its wordings: what does not fit is shortened or
//! dropped whole, least needed first, never cut mid-word.

use ratatui::style::Style;
use ratatui::text::Span;

/// One item of a header line: its wordings, longest first, each with how much it is
/// needed there (0: never dropped; the highest is shortened, or dropped after its last
/// wording, first). Items go whole: a word or a number is never cut from its unit.
pub struct Part<'a> {
    pub words: Vec<(u8, Vec<Span<'a>>)>,
}

impl<'a> Part<'a> {
    pub fn new(words: Vec<(u8, Vec<Span<'a>>)>) -> Part<'a> {
        Part { words }
    }

    /// One wording of one span.
    pub fn one(need: u8, text: String, style: Style) -> Part<'a> {
        Part::new(vec![(need, vec![Span::styled(text, style)])])
    }
}

/// The spans of `parts` in `width`: the least needed wording is shortened or its item
/// dropped (the rightmost first among equals) until the line fits, and a dropped item
/// leaves a `…` at the end. What still does not fit (items never dropped) is cut with
/// `…`.
pub fn fit_parts<'a>(parts: Vec<Part<'a>>, width: usize, dim: Style) -> Vec<Span<'a>> {
    let wide = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    // Per item, the wording in use; None once dropped.
    let mut at: Vec<Option<usize>> = parts
        .iter()
        .map(|p| (!p.words.is_empty()).then_some(0))
        .collect();
    let mut dropped = false;
    let total = |at: &[Option<usize>], dropped: bool| -> usize {
        parts
            .iter()
            .zip(at)
            .filter_map(|(p, k)| k.map(|k| wide(&p.words[k].1)))
            .sum::<usize>()
            + usize::from(dropped)
    };
    while total(&at, dropped) > width {
        let Some(i) = (0..parts.len())
            .filter_map(|i| at[i].map(|k| (i, parts[i].words[k].0)))
            .filter(|(_, need)| *need > 0)
            .max_by_key(|(i, need)| (*need, *i))
            .map(|(i, _)| i)
        else {
            break;
        };
        let k = at[i].unwrap_or_default();
        if k + 1 < parts[i].words.len() {
            at[i] = Some(k + 1);
        } else {
            at[i] = None;
            dropped = true;
        }
    }
    let mut out: Vec<Span<'a>> = parts
        .into_iter()
        .zip(at)
        .filter_map(|(mut p, k)| k.map(|k| p.words.swap_remove(k).1))
        .flatten()
        .collect();
    if dropped {
        out.push(Span::styled("…", dim));
    }
    let over = wide(&out).saturating_sub(width);
    if over > 0 {
        // Only items that are never dropped are left: cut the end of the line.
        let mut room = width.saturating_sub(1);
        let mut cut = Vec::new();
        for sp in out {
            if room == 0 {
                break;
            }
            let text: String = sp.content.chars().take(room).collect();
            room -= text.chars().count();
            cut.push(Span::styled(text, sp.style));
        }
        cut.push(Span::styled("…", dim));
        return cut;
    }
    out
}
