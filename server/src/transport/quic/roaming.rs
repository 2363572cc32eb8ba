//! Where quinn's tasks run (shell): a [`quinn::Runtime`] whose tasks can
//! move between tokio runtimes, so that a connection's driver runs on the
//! shard of the session it serves.
//!
//! quinn drives an endpoint and each of its connections with a task of its
//! own, spawned through its [`quinn::Runtime`]: with quinn's
//! [`quinn::TokioRuntime`] on the runtime that accepted the connection, for
//! good. A room's updates then wake that task on another thread, and every
//! input it reads wakes the session on the room's shard from another
//! thread. With [`RoamingRuntime`] each task quinn spawns is a [`Driver`]
//! that can be told to move: the session's link moves its connection's
//! driver along when the session moves to its room's shard (see
//! [`super::QuicLink`]), and from then on the room, the session and the
//! driver share one thread. The driver's timer follows it (a timer is
//! re-armed on the runtime its task runs on after a move); the socket stays
//! registered with the runtime the endpoint was made on (a send only waits
//! for it when the socket buffer is full).

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::task::AtomicWaker;
use quinn::{AsyncTimer, AsyncUdpSocket, Runtime};
use tokio::runtime::Handle;
use tokio::time::Sleep;

thread_local! {
    /// The driver quinn spawned last on this thread (see [`take_spawned`]).
    static SPAWNED: RefCell<Option<Driver>> = const { RefCell::new(None) };
}

/// Takes the driver quinn spawned last on this thread. quinn spawns a
/// connection's driver inside [`quinn::Incoming::accept`] (and an
/// endpoint's inside [`quinn::Endpoint::new`]), on the calling thread, so
/// the caller takes it right after that call returns.
pub(crate) fn take_spawned() -> Option<Driver> {
    SPAWNED.with(|spawned| spawned.borrow_mut().take())
}

/// A [`quinn::Runtime`] on tokio whose tasks run on the runtime they were
/// spawned from until their [`Driver`] moves them. The UDP socket is
/// tokio's, registered with the runtime current when the endpoint is made.
#[derive(Debug, Default)]
pub(crate) struct RoamingRuntime;

impl Runtime for RoamingRuntime {
    fn new_timer(&self, at: Instant) -> Pin<Box<dyn AsyncTimer>> {
        Box::pin(FollowingTimer {
            sleep: Box::pin(tokio::time::sleep_until(at.into())),
            task: tokio::task::try_id(),
        })
    }

    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        let home = Arc::new(Home::default());
        tokio::spawn(Roaming {
            task: Some(future),
            home: Arc::clone(&home),
            registered: false,
        });
        SPAWNED.with(|spawned| *spawned.borrow_mut() = Some(Driver(home)));
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        quinn::TokioRuntime.wrap_udp_socket(socket)
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// A task quinn spawned (a connection's or the endpoint's driver), which
/// can be told to move to another runtime.
#[derive(Clone, Debug)]
pub(crate) struct Driver(Arc<Home>);

impl Driver {
    /// Moves the task to the runtime this is called on, at its next poll
    /// (it is woken for it); nothing when it already runs there or has
    /// ended, or when called outside a runtime.
    pub(crate) fn move_here(&self) {
        if let Ok(here) = Handle::try_current() {
            self.0.move_to(here);
        }
    }
}

/// What a task and its [`Driver`]s share.
#[derive(Debug, Default)]
struct Home {
    /// Set (with `target`) when the task must move.
    moving: AtomicBool,
    /// The runtime the task must move to.
    target: Mutex<Option<Handle>>,
    /// The waker of the task where it runs now.
    waker: AtomicWaker,
}

impl Home {
    fn move_to(&self, runtime: Handle) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(runtime);
        self.moving.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// The runtime to move to, once per request.
    fn take_target(&self) -> Option<Handle> {
        // A plain load first: this runs at every poll of every driver.
        if !self.moving.load(Ordering::Relaxed) || !self.moving.swap(false, Ordering::Acquire) {
            return None;
        }
        self.target.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A quinn task, wrapped so that it can move: asked to, it hands the inner
/// future to a new task on the target runtime and ends.
struct Roaming {
    task: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    home: Arc<Home>,
    /// Whether this task's waker is in `home` (a tokio task's waker stays
    /// the same; the task is new after each move).
    registered: bool,
}

impl Future for Roaming {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if let Some(target) = this.home.take_target() {
            // `move_to` took the waker: register it again if staying.
            this.registered = false;
            let here = Handle::try_current().map(|h| h.id()).ok();
            if here != Some(target.id())
                && let Some(task) = this.task.take()
            {
                target.spawn(Self {
                    task: Some(task),
                    home: Arc::clone(&this.home),
                    registered: false,
                });
                return Poll::Ready(());
            }
        }
        if !this.registered {
            this.home.waker.register(cx.waker());
            this.registered = true;
        }
        match &mut this.task {
            Some(task) => task.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

/// A tokio timer that re-arms itself on the runtime of the task polling it
/// when that task is not the one that armed it (its driver moved).
#[derive(Debug)]
struct FollowingTimer {
    sleep: Pin<Box<Sleep>>,
    /// The task that armed `sleep`.
    task: Option<tokio::task::Id>,
}

impl FollowingTimer {
    /// Whether the polling task differs from the one that armed the timer
    /// (and notes the new one).
    fn moved(&mut self) -> bool {
        let task = tokio::task::try_id();
        if task == self.task {
            return false;
        }
        self.task = task;
        true
    }
}

impl AsyncTimer for FollowingTimer {
    fn reset(mut self: Pin<&mut Self>, at: Instant) {
        let this = &mut *self;
        if this.moved() {
            this.sleep = Box::pin(tokio::time::sleep_until(at.into()));
        } else {
            Sleep::reset(this.sleep.as_mut(), at.into());
        }
    }

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.moved() {
            this.sleep = Box::pin(tokio::time::sleep_until(this.sleep.deadline()));
        }
        Future::poll(this.sleep.as_mut(), cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    /// A current-thread runtime on a thread of its own, named `name`.
    fn runtime_thread(name: &str) -> (Handle, tokio::sync::oneshot::Sender<()>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                })
            })
            .expect("thread");
        (handle, stop)
    }

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or("?").to_owned()
    }

    #[test]
    fn a_driver_and_its_timer_move_to_the_runtime_that_asks() {
        let (a, _stop_a) = runtime_thread("runtime-a");
        let (b, _stop_b) = runtime_thread("runtime-b");
        let polls = Arc::new(AtomicUsize::new(0));
        let (seen_tx, seen) = std::sync::mpsc::channel::<String>();
        let (tick_tx, mut ticks) = tokio::sync::mpsc::unbounded_channel::<()>();

        // A task like a connection driver: a timer made once and re-armed,
        // woken by a channel too; it says where each wake-up ran.
        let task_polls = Arc::clone(&polls);
        let driver = a
            .block_on(async {
                // Spawned from a task on `a`, as quinn spawns from accept.
                tokio::spawn(async move {
                    RoamingRuntime.spawn(Box::pin(async move {
                        let mut timer =
                            RoamingRuntime.new_timer(Instant::now() + Duration::from_secs(60));
                        loop {
                            timer
                                .as_mut()
                                .reset(Instant::now() + Duration::from_millis(5));
                            std::future::poll_fn(|cx| timer.as_mut().poll(cx)).await;
                            task_polls.fetch_add(1, Ordering::Relaxed);
                            seen_tx.send(thread_name()).expect("seen");
                            if ticks.recv().await.is_none() {
                                return;
                            }
                        }
                    }));
                    take_spawned().expect("the spawned driver")
                })
                .await
            })
            .expect("spawned");
        assert_eq!(
            seen.recv_timeout(Duration::from_secs(5)).expect("ran"),
            "runtime-a"
        );

        // Asked from `b`, it moves there, timer included.
        let (moved_tx, moved) = std::sync::mpsc::channel();
        let mover = driver.clone();
        b.spawn(async move {
            mover.move_here();
            moved_tx.send(()).expect("moved");
        });
        moved.recv_timeout(Duration::from_secs(5)).expect("asked");
        for _ in 0..3 {
            tick_tx.send(()).expect("tick");
            assert_eq!(
                seen.recv_timeout(Duration::from_secs(5)).expect("ran"),
                "runtime-b"
            );
        }
        // Asked again where it is, it stays (and keeps being woken).
        let again = driver.clone();
        b.spawn(async move { again.move_here() });
        std::thread::sleep(Duration::from_millis(20));
        tick_tx.send(()).expect("tick");
        assert_eq!(
            seen.recv_timeout(Duration::from_secs(5)).expect("ran"),
            "runtime-b"
        );
        assert_eq!(polls.load(Ordering::Relaxed), 5);
        assert!(take_spawned().is_none(), "nothing spawned on this thread");
    }
}
