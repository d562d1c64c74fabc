//! A thread with a runtime of its own, where a remote store's requests run.
//!
//! The state traits are synchronous (the local store is file I/O, and the heartbeat is a
//! thread), while database and object-store clients are asynchronous. Their futures cannot
//! be driven from the caller's thread, which may itself be a runtime's worker (the engine
//! calls `append` from its apply walk): a runtime cannot be entered from inside another.
//! So every request is sent here, and the caller waits for its answer on a plain channel.
//! Clients made here (a database connection and its driver task) live on this runtime for
//! the store's whole life.

use std::future::Future;
use std::pin::Pin;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs futures on its own thread; dropped with the last store that uses it.
#[derive(Debug)]
pub(super) struct Runner {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
}

impl Runner {
    /// Start the thread. Fails only when the system refuses a thread or a runtime.
    pub(super) fn start(name: &str) -> std::io::Result<Runner> {
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = queue.recv().await {
                        tokio::spawn(job);
                    }
                })
            })?;
        Ok(Runner { jobs })
    }

    /// Start `work` there, to be waited for later (the caller does something else
    /// meanwhile). `None` when the runner's thread is gone.
    pub(super) fn begin<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Option<Running<T>> {
        let (done, answer) = std::sync::mpsc::sync_channel(1);
        let job = Box::pin(async move {
            let _ = done.send(work.await);
        });
        self.jobs.send(job).ok()?;
        Some(Running(answer))
    }
}

/// Work started on the runner's thread.
#[derive(Debug)]
pub(super) struct Running<T>(std::sync::mpsc::Receiver<T>);

impl<T> Running<T> {
    /// Its result, once it ends. `None` when the work panicked or the thread is gone.
    pub(super) fn wait(self) -> Option<T> {
        self.0.recv().ok()
    }
}
