//! The one function every string from another process goes through before anyone sees it.
//!
//! Process names, command lines, paths and user names are chosen by whoever started the
//! process. Printed raw they could move the cursor, retitle the terminal, or reorder text
//! with bidi controls. Here every such character becomes a visible escape.

use std::fmt::Write as _;

/// Longest sanitised string, in characters, before it is cut and marked with `…`.
pub const MAX_CHARS: usize = 4096;

/// Sanitises text that is already UTF-8, capping it at [`MAX_CHARS`].
pub fn sanitize(input: &str) -> String {
    sanitize_capped(input, MAX_CHARS)
}

/// Longest command line kept, all its arguments together, in characters: a process may
/// pass megabytes of arguments, and its line is printed, sent as JSON and over MCP.
pub const MAX_CMDLINE_CHARS: usize = 8192;

/// Bytes of a `/proc/PID/cmdline` worth reading for [`cmdline`].
pub const MAX_CMDLINE_BYTES: u64 = 64 << 10;

/// A command line as read from `/proc/PID/cmdline` (NUL-separated), sanitised: at most
/// `max_args` arguments and [`MAX_CMDLINE_CHARS`] characters in all; what is cut ends
/// with `…` (the last argument kept, or one more).
pub fn cmdline(raw: &[u8], max_args: usize) -> Vec<String> {
    let mut left = MAX_CMDLINE_CHARS;
    let mut out = Vec::new();
    for a in raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .take(max_args)
    {
        if left == 0 {
            out.push("…".to_owned());
            break;
        }
        let s = sanitize_capped(&String::from_utf8_lossy(a), left.min(MAX_CHARS));
        left = left.saturating_sub(s.chars().count());
        out.push(s);
    }
    out
}

/// Sanitises raw bytes (a cmdline argument, a link target): invalid UTF-8 is decoded lossily.
pub fn sanitize_bytes(input: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(input))
}

/// Sanitises with an explicit cap on the number of characters kept.
pub fn sanitize_capped(input: &str, max_chars: usize) -> String {
    // Fast path: plain printable ASCII that fits is copied as is.
    if input.len() <= max_chars && input.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return input.to_owned();
    }
    let mut out = String::with_capacity(input.len().min(max_chars + 16));
    for (kept, c) in input.chars().enumerate() {
        if kept == max_chars {
            out.push('…');
            break;
        }
        push_visible(&mut out, c);
    }
    out
}

/// Longest piece of user input quoted back in an error message.
pub const QUOTE_CHARS: usize = 80;

/// User input quoted in an error (a query term, a config value, an argument): sanitised
/// like foreign text and cut to [`QUOTE_CHARS`], so that a 100 KB term gives a short line
/// and an escape sequence typed by mistake is not replayed to the terminal.
pub fn quote(input: &str) -> String {
    sanitize_capped(input, QUOTE_CHARS)
}

/// True for characters that must never reach a terminal raw.
pub fn is_unsafe_char(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || (0x7f..=0x9f).contains(&u)
        || matches!(
            u,
            0x00ad                   // soft hyphen (invisible)
            | 0x034f                 // combining grapheme joiner
            | 0x061c                 // arabic letter mark
            | 0x115f | 0x1160        // hangul fillers
            | 0x17b4 | 0x17b5
            | 0x180b..=0x180f        // mongolian variation selectors and vowel separator
            | 0x200b..=0x200f        // zero-width space/joiners, LRM, RLM
            | 0x2028..=0x202e        // line/paragraph separators, bidi embeddings and overrides
            | 0x2060..=0x206f        // word joiner, invisible operators, bidi isolates
            | 0x3164                 // hangul filler
            | 0xfe00..=0xfe0f        // variation selectors
            | 0xfeff                 // zero-width no-break space / BOM
            | 0xffa0
            | 0xfff9..=0xfffb        // interlinear annotation
            | 0x1d173..=0x1d17a      // musical format characters
            | 0xe0000..=0xe0fff // tags and variation selectors supplement
        )
}

fn push_visible(out: &mut String, c: char) {
    if !is_unsafe_char(c) {
        out.push(c);
        return;
    }
    // Writing into a String cannot fail.
    let _ = match c {
        '\x1b' => out.write_str("\\e"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:04x}}}", c as u32),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_terminal_controls_and_bidi() {
        assert_eq!(sanitize("a\x1b]0;x\x07b"), "a\\e]0;x\\x07b");
        assert_eq!(sanitize("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(sanitize("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(sanitize("c1\u{9b}31m"), "c1\\x9b31m");
        assert_eq!(sanitize("del\x7f"), "del\\x7f");
        assert_eq!(sanitize("line\nbreak"), "line\\nbreak");
    }

    #[test]
    fn keeps_ordinary_text() {
        assert_eq!(
            sanitize("node server.js --port=3000"),
            "node server.js --port=3000"
        );
        assert_eq!(sanitize("café ünïcødé 端口"), "café ünïcødé 端口");
    }

    #[test]
    fn decodes_invalid_utf8_lossily() {
        assert_eq!(sanitize_bytes(b"ab\xffcd"), "ab\u{fffd}cd");
    }

    #[test]
    fn quoted_input_is_short_and_safe() {
        let long = "x".repeat(100_000);
        assert!(quote(&long).chars().count() <= QUOTE_CHARS + 1);
        assert_eq!(quote("\x1b[2J"), "\\e[2J");
    }

    #[test]
    fn caps_length() {
        let long = "x".repeat(MAX_CHARS + 10);
        let s = sanitize(&long);
        assert_eq!(s.chars().count(), MAX_CHARS + 1);
        assert!(s.ends_with('…'));
        assert_eq!(sanitize_capped("abcdef", 3), "abc…");
    }

    proptest! {
        #[test]
        fn output_never_holds_an_unsafe_char(s in any::<String>()) {
            let out = sanitize(&s);
            prop_assert!(!out.chars().any(is_unsafe_char), "{out:?}");
        }

        #[test]
        fn bytes_output_never_holds_an_unsafe_char(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let out = sanitize_bytes(&b);
            prop_assert!(!out.chars().any(is_unsafe_char), "{out:?}");
        }

        #[test]
        fn safe_text_is_unchanged(s in "[a-zA-Z0-9 ./:_=-]{0,100}") {
            prop_assert_eq!(sanitize(&s), s);
        }
    }

    /// A command line of 250 arguments of 4,000 characters (a megabyte) keeps 8,192
    /// characters in all and says it was cut; a short one is kept whole, sanitised.
    #[test]
    fn a_command_line_is_capped_as_a_whole() {
        let arg = "a".repeat(4000);
        let raw: Vec<u8> = (0..250).flat_map(|_| arg.bytes().chain([0])).collect();
        let args = cmdline(&raw, 256);
        let chars: usize = args.iter().map(|a| a.chars().count()).sum();
        assert!(chars <= MAX_CMDLINE_CHARS + 2, "{chars}");
        assert!(chars >= MAX_CMDLINE_CHARS, "{chars}");
        assert_eq!(args.len(), 4, "two whole, one cut, then the mark");
        assert!(args[2].ends_with('…'));
        assert_eq!(args[3], "…");
        assert_eq!(
            cmdline(b"python3\0-c\0print(1)\x1b[2J\0", 256),
            ["python3", "-c", "print(1)\\e[2J"]
        );
    }
}
