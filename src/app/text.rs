//! Cutting and wrapping text to a number of columns: what the table, the detail pane and
//! the dialogs do with values longer than their room.

/// Greedy word wrap at `room` columns; a word longer than a line is cut. At least one
/// (maybe empty) line.
pub fn wrap(text: &str, room: usize) -> Vec<String> {
    // No room at all still takes a character a line (a terminal 0 columns wide).
    let room = room.max(1);
    let mut out = vec![String::new()];
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let line = out.last_mut().map_or(0, |l| l.chars().count());
            let sep = usize::from(line > 0);
            if line + sep + word.len() <= room {
                if let Some(l) = out.last_mut() {
                    if sep == 1 {
                        l.push(' ');
                    }
                    l.extend(word.iter());
                }
                break;
            }
            if line > 0 {
                out.push(String::new());
                continue;
            }
            // A word longer than a whole line.
            let rest = word.split_off(room.min(word.len()));
            if let Some(l) = out.last_mut() {
                l.extend(word.iter());
            }
            out.push(String::new());
            word = rest;
            if word.is_empty() {
                out.pop();
                break;
            }
        }
    }
    out
}

/// Cuts `s` to `width` columns, marking the cut with `…`.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// Cuts an address `host:port` to `width` columns keeping its port, the part a user
/// looks for: `192.168.100.200:54321` in 19 is `192.168.100.…:54321`. With no room for
/// the port and a character of the host, it is cut like any text.
pub fn fit_endpoint(s: &str, width: usize) -> String {
    let len = s.chars().count();
    let Some(colon) = s.rfind(':') else {
        return fit(s, width);
    };
    let port = &s[colon..];
    let port_len = port.chars().count();
    if len <= width || port_len + 2 > width {
        return fit(s, width);
    }
    let mut out: String = s[..colon].chars().take(width - port_len - 1).collect();
    out.push('…');
    out.push_str(port);
    out
}

/// `8041` → `8,041`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod fit_tests {
    use super::{fit, fit_endpoint};

    #[test]
    fn an_address_cut_keeps_its_port() {
        assert_eq!(
            fit_endpoint("192.168.100.200:54321", 19),
            "192.168.100.…:54321"
        );
        assert_eq!(fit_endpoint("127.0.0.1:37807", 13), "127.0.…:37807");
        assert_eq!(fit_endpoint("[fe80::1]:22", 8), "[fe8…:22");
        assert_eq!(fit_endpoint("127.0.0.1:3000", 14), "127.0.0.1:3000");
        assert_eq!(fit_endpoint("127.0.0.1:37807", 6), "127.0…", "no room: cut");
        assert_eq!(fit_endpoint("no-colon-here", 5), "no-c…");
        for w in 0..25 {
            assert!(fit_endpoint("[2001:db8::1]:54321", w).chars().count() <= w);
        }
    }

    #[test]
    fn cuts_keep_the_start() {
        assert_eq!(fit("python3 -m http.server 38080", 10), "python3 -…");
        assert_eq!(fit("short", 15), "short");
        assert_eq!(fit("abcdef", 0), "");
        for w in 0..30 {
            assert!(fit("python3 -m http.server 38080", w).chars().count() <= w);
        }
    }
}

#[cfg(test)]
mod wrap_tests {
    use super::wrap;

    #[test]
    fn wraps_at_words_and_cuts_long_ones() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), vec![""]);
        assert_eq!(wrap("a abcdef", 3), vec!["a", "abc", "def"]);
        assert_eq!(wrap("ab", 0), vec!["a", "b"], "no room: still an end");
        for line in wrap(&"word ".repeat(50), 17) {
            assert!(line.chars().count() <= 17, "{line}");
        }
    }
}
