use super::*;
use std::io::Write;
use std::net::{Ipv6Addr, TcpListener, TcpStream};

fn idle(client: Client, last_use: u64) -> Seen {
    Seen {
        client,
        last_use,
        busy_since: None,
    }
}

fn remote(last: u8) -> Client {
    Client::of(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
}

#[test]
fn every_loopback_address_is_one_client_and_ipv6_counts_by_64() {
    for ip in [
        "127.0.0.1",
        "127.0.0.2",
        "127.255.0.9",
        "::1",
        "::ffff:127.0.0.5",
    ] {
        assert_eq!(Client::of(ip.parse().unwrap()), Client::Loopback, "{ip}");
    }
    let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
    let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
    let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(Client::of(a.into()), Client::of(b.into()));
    assert_ne!(Client::of(a.into()), Client::of(c.into()));
    assert_eq!(
        Client::of("::ffff:192.0.2.7".parse().unwrap()),
        Client::V4(Ipv4Addr::new(192, 0, 2, 7))
    );
}

#[test]
fn below_the_limits_a_newcomer_is_admitted() {
    let entries: Vec<Seen> = (0..10).map(|i| idle(remote(i as u8), i)).collect();
    assert_eq!(
        choose(&entries, Client::Loopback, 100, |_| false),
        Choice::Admit
    );
}

#[test]
fn a_full_server_drops_its_least_recently_used_idle_connection() {
    // 64 clients of 1 connection each; the one used longest ago is number 7.
    let mut entries: Vec<Seen> = (0..MAX_CONNECTIONS)
        .map(|i| idle(remote(i as u8), 1000 + i as u64))
        .collect();
    entries[7].last_use = 5;
    // Older still, but answering a request: never dropped for being old.
    entries[3].last_use = 1;
    entries[3].busy_since = Some(2000);
    assert_eq!(
        choose(&entries, remote(200), 3000, |_| false),
        Choice::Evict(7)
    );
}

#[test]
fn a_request_waiting_in_the_kernel_protects_its_connection() {
    let entries: Vec<Seen> = (0..MAX_CONNECTIONS)
        .map(|i| idle(remote(i as u8), i as u64))
        .collect();
    // The oldest has a request not yet read: the next oldest goes.
    assert_eq!(
        choose(&entries, remote(200), 100, |i| i == 0),
        Choice::Evict(1)
    );
    // All have: wait for the tasks to read them.
    assert_eq!(choose(&entries, remote(200), 100, |_| true), Choice::Wait);
}

#[test]
fn only_when_every_connection_is_answering_is_the_newcomer_refused() {
    let entries: Vec<Seen> = (0..MAX_CONNECTIONS)
        .map(|i| Seen {
            client: remote(i as u8),
            last_use: 10,
            busy_since: Some(1000 + i as u64),
        })
        .collect();
    assert_eq!(
        choose(&entries, remote(200), 1500, |_| false),
        Choice::Refuse
    );
    // A response stuck past STUCK (a client that does not read) no longer protects it:
    // the longest stuck goes.
    let later = 1000 + STUCK.as_millis() as u64 + 5;
    assert_eq!(
        choose(&entries, remote(200), later, |_| false),
        Choice::Evict(0)
    );
}

/// A client that pipelines requests and never reads the answers: every connection is
/// stuck writing, with more requests unread in the kernel behind the response. Past
/// STUCK they no longer keep a newcomer out; before it, only they are answering.
#[test]
fn requests_behind_a_stuck_response_do_not_protect_its_connection() {
    let entries: Vec<Seen> = (0..PER_CLIENT)
        .map(|i| Seen {
            client: Client::Loopback,
            last_use: 10,
            busy_since: Some(1000 + i as u64),
        })
        .collect();
    assert_eq!(
        choose(&entries, Client::Loopback, 1500, |_| true),
        Choice::Refuse
    );
    let later = 1000 + STUCK.as_millis() as u64 + 5;
    assert_eq!(
        choose(&entries, Client::Loopback, later, |_| true),
        Choice::Evict(0)
    );
    // An idle connection with a request waiting is still protected, and one that is not
    // waiting still goes before a stuck one.
    let mut mixed = entries.clone();
    mixed[3] = idle(Client::Loopback, 0);
    assert_eq!(
        choose(&mixed, Client::Loopback, later, |i| i == 3),
        Choice::Evict(0)
    );
    assert_eq!(
        choose(&mixed, Client::Loopback, later, |_| false),
        Choice::Evict(3)
    );
}

#[test]
fn a_client_at_its_cap_makes_room_among_its_own_connections() {
    // Loopback holds PER_CLIENT connections, all newer than a remote one.
    let mut entries = vec![idle(remote(1), 0)];
    entries.extend((0..PER_CLIENT).map(|i| idle(Client::Loopback, 100 + i as u64)));
    assert_eq!(
        choose(&entries, Client::Loopback, 500, |_| false),
        Choice::Evict(1),
        "its own oldest, not the remote client's older one"
    );
    // A remote newcomer below its cap, on a server below its limit: admitted.
    assert_eq!(choose(&entries, remote(2), 500, |_| false), Choice::Admit);
}

/// A flood of idle loopback connections, each replaced as it is dropped, with a scrape
/// (its request sent, not read yet) among them: the scrape's connection is never the one
/// dropped, however many newcomers arrive before its task runs.
#[test]
fn a_flood_of_idle_connections_never_displaces_a_waiting_request() {
    let mut entries: Vec<Seen> = (0..PER_CLIENT)
        .map(|i| idle(Client::Loopback, i as u64))
        .collect();
    entries[5].last_use = 0;
    let scrape = 5;
    let mut scrape_at = scrape;
    for now in 100..10_000u64 {
        match choose(&entries, Client::Loopback, now, |i| i == scrape_at) {
            Choice::Evict(i) => {
                assert_ne!(i, scrape_at, "the scrape was dropped at {now}");
                // swap_remove, as the table does.
                entries.swap_remove(i);
                if scrape_at == entries.len() {
                    scrape_at = i;
                }
                entries.push(idle(Client::Loopback, now));
            }
            other => panic!("{other:?} at {now}"),
        }
    }
}

/// Real connections: the table peeks at the kernel, and an evicted connection is told.
#[test]
fn the_table_peeks_for_requests_and_tells_the_evicted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let slots = Slots::new();
    let mut clients = Vec::new();
    let mut tickets = Vec::new();
    for _ in 0..PER_CLIENT {
        let c = TcpStream::connect(addr).unwrap();
        let (s, from) = listener.accept().unwrap();
        let Admit::In(t) = slots.admit(&s, from.ip()) else {
            panic!("not admitted below the cap")
        };
        clients.push(c);
        tickets.push((s, t));
    }
    assert_eq!(slots.len(), PER_CLIENT);
    // The oldest asks for something; its server side has not read it.
    clients[0].write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tickets[0].1.peer.pending() {
        assert!(Instant::now() < deadline, "the request never showed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _c = TcpStream::connect(addr).unwrap();
    let (s, from) = listener.accept().unwrap();
    let Admit::In(_t) = slots.admit(&s, from.ip()) else {
        panic!("the newcomer was not admitted")
    };
    assert_eq!(slots.len(), PER_CLIENT, "one made room");
    // The second oldest was dropped, and told so; the first was kept.
    let told = |t: &Ticket| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(50), t.peer.evicted())
                .await
                .is_ok()
        })
    };
    assert!(told(&tickets[1].1));
    assert!(!told(&tickets[0].1));
    assert!(!told(&tickets[2].1));
    // A ticket that ends frees its slot.
    drop(tickets.pop());
    assert_eq!(slots.len(), PER_CLIENT - 1);
}
