//! A single-slot mailbox from the collector thread to the event loop: it holds at most
//! one value, and a newer value replaces an unread one (or is folded into it, by the
//! sender's rule). Whatever the consumer does, a terminal that stops reading for a
//! minute included, nothing piles up between the two.
//!
//! The slot is a `Mutex<Option<T>>`; a one-place tokio channel is the doorbell that wakes
//! the receiver (a ring while one is pending is a no-op). Waiting on the doorbell is
//! cancel-safe, so [`Receiver::recv`] can sit in a `select!`.

use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc::{self, error::TrySendError};

type Slot<T> = Arc<Mutex<Option<T>>>;

/// The collector thread's end; dropping it closes the mailbox (after the last value).
pub struct Sender<T> {
    slot: Slot<T>,
    bell: mpsc::Sender<()>,
}

/// The event loop's end; dropping it tells the sender nobody listens any more.
pub struct Receiver<T> {
    slot: Slot<T>,
    bell: mpsc::Receiver<()>,
}

/// A new, empty mailbox.
pub fn mailbox<T>() -> (Sender<T>, Receiver<T>) {
    let slot: Slot<T> = Arc::new(Mutex::new(None));
    let (bell, rings) = mpsc::channel(1);
    (
        Sender {
            slot: slot.clone(),
            bell,
        },
        Receiver { slot, bell: rings },
    )
}

/// The slot, also after a panic elsewhere while it was held (an `Option` is never left
/// half-written).
fn lock<T>(slot: &Mutex<Option<T>>) -> MutexGuard<'_, Option<T>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Sender<T> {
    /// Leaves `value`, replacing an unread one. False when the receiver is gone.
    pub fn put(&self, value: T) -> bool {
        self.put_with(value, |_, newer| newer)
    }

    /// Leaves `value`; an unread one is combined with it as `fold(unread, value)`. The
    /// fold runs outside the lock, so a slow one never stalls the receiver (which finds
    /// the slot empty meanwhile, and waits for the bell). False when the receiver is gone.
    pub fn put_with(&self, value: T, fold: impl FnOnce(T, T) -> T) -> bool {
        if self.bell.is_closed() {
            return false;
        }
        let unread = lock(&self.slot).take();
        let value = match unread {
            Some(old) => fold(old, value),
            None => value,
        };
        *lock(&self.slot) = Some(value);
        match self.bell.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => true,
            Err(TrySendError::Closed(())) => false,
        }
    }
}

impl<T> Receiver<T> {
    /// The value left in the slot, waiting for one; `None` once the sender is gone and the
    /// slot is empty.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(v) = lock(&self.slot).take() {
                return Some(v);
            }
            if self.bell.recv().await.is_none() {
                return lock(&self.slot).take();
            }
        }
    }

    /// The value left in the slot, if any, without waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        lock(&self.slot).take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A value that counts how many of its kind are alive.
    struct Counted(u64, Arc<AtomicUsize>);

    impl Counted {
        fn new(n: u64, alive: &Arc<AtomicUsize>) -> Counted {
            alive.fetch_add(1, Ordering::SeqCst);
            Counted(n, alive.clone())
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A thousand values put while nobody reads: one is kept, the newest.
    #[test]
    fn the_newest_wins_and_never_more_than_one_is_kept() {
        let alive = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = mailbox();
        for n in 1..=1000 {
            assert!(tx.put(Counted::new(n, &alive)));
            assert_eq!(alive.load(Ordering::SeqCst), 1, "after {n} puts");
        }
        assert_eq!(rx.try_recv().map(|c| c.0), Some(1000));
        assert!(rx.try_recv().is_none(), "the slot is empty once read");
        assert_eq!(alive.load(Ordering::SeqCst), 0);
    }

    /// `put_with` folds an unread value into the newer one; a value that was read is not
    /// folded again.
    #[test]
    fn an_unread_value_is_folded_into_the_newer() {
        let (tx, mut rx) = mailbox::<Vec<u32>>();
        let fold = |mut old: Vec<u32>, new: Vec<u32>| {
            old.extend(new);
            old
        };
        for n in 1..=3 {
            tx.put_with(vec![n], fold);
        }
        assert_eq!(rx.try_recv(), Some(vec![1, 2, 3]));
        tx.put_with(vec![4], fold);
        assert_eq!(rx.try_recv(), Some(vec![4]));
    }

    /// A producer thread faster than the consumer: the consumer sees increasing values,
    /// ends with the last one, and then sees the mailbox closed.
    #[test]
    fn a_slow_consumer_sees_increasing_values_and_the_last() {
        let (tx, mut rx) = mailbox::<u64>();
        let producer = std::thread::spawn(move || {
            for n in 1..=20_000 {
                assert!(tx.put(n));
            }
        });
        let seen = block_on(async move {
            let mut seen = Vec::new();
            while let Some(n) = rx.recv().await {
                seen.push(n);
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            seen
        });
        producer.join().unwrap();
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert_eq!(seen.last(), Some(&20_000));
        assert!(
            seen.len() < 20_000,
            "the consumer was slower: some were replaced"
        );
    }

    /// `recv` wakes for a value put while it waits, and the sender learns when the
    /// receiver is gone.
    #[test]
    fn recv_wakes_and_a_dropped_receiver_is_noticed() {
        let (tx, mut rx) = mailbox::<u32>();
        let got = block_on(async move {
            let putter = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                assert!(tx.put(7));
                tx
            });
            let got = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await;
            let tx = putter.join().unwrap();
            drop(rx);
            assert!(!tx.put(8), "nobody listens");
            got
        });
        assert_eq!(got.unwrap(), Some(7));
    }
}
