//! Plain words for the live page: what each strategy does to the heartbeat,
//! condensed from docs/strategies.md.

use crate::experiment::Strategy;

/// One short paragraph on what `strategy` is doing to the heartbeat now.
pub(crate) fn explain(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::ThreadsUnsync => {
            "No lock: the heartbeat reads the array while the counter writes it, so its checks see part of one pass and part of the next. Expect inconsistent checks on nearly every beat and a punctual heartbeat — the article's crash, counted instead."
        }
        Strategy::ThreadsMutex => {
            "One lock, held by the counter for a whole pass. Every check is consistent, but the lock is not fair: the counter takes it back before the woken heartbeat runs, so the heartbeat waits with long tails and, with long passes, misses slots."
        }
        Strategy::ThreadsMutexYield => {
            "As threads-mutex, with a yield before each lock, as the article's time.sleep(0). A hint, not a hand-off: the tails shrink a little and unreliably on two or more cores."
        }
        Strategy::Async => {
            "Two tasks on one thread: the counter yields after every pass, the heartbeat runs when it does. Consistent without a lock; the heartbeat is late by the rest of a pass plus its check. Under async the timer's expiry is only seen when the counter yields, so that wait shows as wake lateness, not access wait."
        }
        Strategy::ThreadsFairMutex => {
            "A fair lock: the counter's unlock hands the lock straight to the waiting heartbeat. The heartbeat waits at most the rest of one pass — unless there are more runnable threads than cores, when hand-offs form a convoy."
        }
        Strategy::ThreadsChannel => {
            "The counter owns the array; the heartbeat asks over a channel and the counter answers between passes. Consistent by construction; the heartbeat waits for the rest of the current pass and two wake-ups."
        }
        Strategy::ThreadsSnapshot => {
            "Triple buffering: the counter publishes whole passes, the heartbeat checks the latest published copy. Nobody waits for anybody; what the heartbeat reads may be one pass old, and the array is held four times."
        }
        Strategy::AsyncBlocking => {
            "The heartbeat is a task; the counter is blocking code in spawn_blocking behind a lock — the article's caveat about running blocking code in an executor. The heartbeat waits for the lock like threads-mutex does."
        }
    }
}
