//! Names a cloud keeps unique, and keeps taken a while after a delete.
//!
//! Many managed objects are named by the caller (an RDS instance identifier, an ElastiCache
//! group id, a Cloud SQL instance): a create under a name still held is refused. The holder
//! may be the previous object of a replacement or an out-of-band deletion, still being
//! deleted (wait for it to go, then create); an object an interrupted run of this stack made
//! (adopt it, see [`crate::adopt`]); or something else (refuse). And the holder may go
//! between the refusal and the look: then create again. [`create_under_name`] is that loop,
//! once for every provider.

use cairn_core::provider::ProviderError;
use std::future::Future;

/// `name` within `max` characters: itself when it fits, else its start and a stable digest
/// of the whole (`…-1a2b3c4d`), so two long names sharing a start stay apart and a name is
/// the same on every run (objects are found again by it). Never ends in, or doubles, a `-`
/// before the digest, which clouds refuse in identifiers. `max` must leave room for the
/// digest (at least 10).
pub fn fit(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    let digest = digest(name);
    let keep = max.saturating_sub(digest.len() + 1);
    let start: String = name.chars().take(keep).collect();
    format!("{}-{digest}", start.trim_end_matches('-'))
}

/// A stable 8-hex-digit digest of `text` (FNV-1a, folded to 32 bits): the same on every
/// run and every machine, for names that must change when what they name does.
pub fn digest(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", h as u32 ^ (h >> 32) as u32)
}

/// Why a create under a name failed.
#[derive(Debug)]
pub enum Refusal {
    /// The name is held (the cloud's "already exists").
    NameTaken(ProviderError),
    /// Anything else: final.
    Failed(ProviderError),
}

/// Who holds a name a create was refused for, as the cloud reads it now.
#[derive(Debug)]
pub enum Holder<T> {
    /// An object being deleted: the name frees when it is gone.
    Deleting,
    /// An object (what the caller needs to adopt or refuse it).
    Present(T),
    /// Nothing readable holds it (it went meanwhile, or is hidden from us).
    Nobody,
}

/// How many times a name may be refused while nothing readable holds it, before the
/// refusal is final: enough to ride out a holder going between refusal and look.
const VANISHED_RETRIES: u32 = 3;

/// Create under a name: `create` until it succeeds (`Ok(None)`), waiting out holders being
/// deleted (`look` then `wait_gone`); a present holder is returned (`Ok(Some(holder))`) for
/// the caller to adopt or refuse.
pub async fn create_under_name<T, C, CF, L, LF, W, WF>(
    mut create: C,
    mut look: L,
    mut wait_gone: W,
) -> Result<Option<T>, ProviderError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<(), Refusal>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Holder<T>, ProviderError>>,
    W: FnMut() -> WF,
    WF: Future<Output = Result<(), ProviderError>>,
{
    let mut vanished = 0;
    loop {
        match create().await {
            Ok(()) => return Ok(None),
            Err(Refusal::Failed(e)) => return Err(e),
            Err(Refusal::NameTaken(e)) => match look().await? {
                Holder::Deleting => wait_gone().await?,
                Holder::Present(t) => return Ok(Some(t)),
                Holder::Nobody if vanished < VANISHED_RETRIES => vanished += 1,
                Holder::Nobody => return Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn taken() -> Refusal {
        Refusal::NameTaken(ProviderError::Api {
            address: "x.y".into(),
            code: "AlreadyExists".into(),
            message: "taken".into(),
        })
    }

    /// Replays a script of what the cloud answers.
    fn run(
        creates: Vec<Result<(), Refusal>>,
        looks: Vec<Holder<u32>>,
    ) -> (Result<Option<u32>, ProviderError>, usize, usize) {
        let creates = RefCell::new(creates.into_iter());
        let looks = RefCell::new(looks.into_iter());
        let (calls, waits) = (RefCell::new(0), RefCell::new(0));
        let out = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(create_under_name(
                || {
                    *calls.borrow_mut() += 1;
                    let next = creates.borrow_mut().next().expect("a create answer");
                    async move { next }
                },
                || {
                    let next = looks.borrow_mut().next().expect("a look answer");
                    async move { Ok(next) }
                },
                || {
                    *waits.borrow_mut() += 1;
                    async { Ok(()) }
                },
            ));
        let (c, w) = (*calls.borrow(), *waits.borrow());
        (out, c, w)
    }

    #[test]
    fn a_holder_being_deleted_is_waited_out_then_the_create_goes_through() {
        let (out, creates, waits) = run(vec![Err(taken()), Ok(())], vec![Holder::Deleting]);
        assert_eq!((out.unwrap(), creates, waits), (None, 2, 1));
    }

    #[test]
    fn a_holder_gone_between_refusal_and_look_is_retried_a_few_times_only() {
        let (out, creates, _) = run(vec![Err(taken()), Ok(())], vec![Holder::Nobody]);
        assert_eq!((out.unwrap(), creates), (None, 2));
        let (out, creates, _) = run(
            (0..4).map(|_| Err(taken())).collect(),
            (0..4).map(|_| Holder::Nobody).collect(),
        );
        assert!(
            out.is_err(),
            "a name held by something unreadable is refused in the end"
        );
        assert_eq!(creates, 4);
    }

    #[test]
    fn a_present_holder_is_handed_back_and_other_failures_are_final() {
        let (out, _, _) = run(vec![Err(taken())], vec![Holder::Present(7)]);
        assert_eq!(out.unwrap(), Some(7));
        let failed = Refusal::Failed(ProviderError::Api {
            address: "x.y".into(),
            code: "Invalid".into(),
            message: "no".into(),
        });
        let (out, creates, _) = run(vec![Err(failed)], vec![]);
        assert!(out.is_err());
        assert_eq!(creates, 1);
    }

    #[test]
    fn long_names_are_fitted_stably_and_apart() {
        assert_eq!(fit("shop-prod-orders", 63), "shop-prod-orders");
        let a = fit(&format!("{}-orders", "x".repeat(70)), 63);
        let b = fit(&format!("{}-audit", "x".repeat(70)), 63);
        assert!(a.len() <= 63 && b.len() <= 63, "{a} {b}");
        assert_ne!(a, b, "same start, different names");
        assert_eq!(a, fit(&format!("{}-orders", "x".repeat(70)), 63), "stable");
        let dashed = fit(&format!("{}-{}", "y".repeat(30), "z".repeat(40)), 40);
        assert!(!dashed.contains("--"), "{dashed}");
    }
}
