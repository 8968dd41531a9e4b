//! Well-known port names (`/etc/services`), for the optional Service column.

use super::sanitize::sanitize_capped;
use std::collections::HashMap;

/// Port → service name, per transport.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Services {
    names: HashMap<(u16, bool), String>,
}

impl Services {
    /// Parses the `/etc/services` format: `name port/proto [aliases…] [# comment]`.
    /// Lines that do not fit are skipped; the first name given for a port wins.
    pub fn parse(text: &str) -> Services {
        let mut names = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut words = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            let tcp = match proto {
                "tcp" => true,
                "udp" => false,
                _ => continue,
            };
            names
                .entry((port, tcp))
                .or_insert_with(|| sanitize_capped(name, 32));
        }
        Services { names }
    }

    pub fn name(&self, port: u16, tcp: bool) -> Option<&str> {
        self.names.get(&(port, tcp)).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_parses_without_panic(t in "\\PC{0,300}") {
            let s = Services::parse(&t);
            let _ = s.name(80, true);
        }

        #[test]
        fn a_line_round_trips(name in "[a-z][a-z0-9-]{0,15}", port in 1u16.., tcp in any::<bool>()) {
            let proto = if tcp { "tcp" } else { "udp" };
            let s = Services::parse(&format!("{name}\t{port}/{proto}\t# a comment\n"));
            prop_assert_eq!(s.name(port, tcp), Some(name.as_str()));
            prop_assert_eq!(s.name(port, !tcp), None);
        }
    }

    #[test]
    fn parses_services_lines() {
        let s = Services::parse(
            "# comment\nssh\t\t22/tcp\t# SSH\ndomain 53/tcp\ndomain 53/udp\nhttp 80/tcp www\nwww-alt 80/tcp\nbad line\nx 99999/tcp\nevil\x1b 7/tcp\n",
        );
        assert_eq!(s.name(22, true), Some("ssh"));
        assert_eq!(s.name(53, false), Some("domain"));
        assert_eq!(s.name(80, true), Some("http"), "first name wins");
        assert_eq!(s.name(22, false), None);
        assert_eq!(s.name(7, true), Some("evil\\e"));
    }
}
