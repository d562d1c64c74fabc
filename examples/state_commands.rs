//! `cairn state history`, `rollback` and `migrate`: the state's own past, and its moves
//! between backends.

use crate::commands::{open_state, setup, state_location, Ctx};
use crate::{Outcome, StackArgs};
use cairn_core::plan::planner::PlanOptions;
use cairn_core::state::remote::MemoryBlobs;
use cairn_core::state::url::redacted;
use cairn_core::state::{RemoteStore, StateStore};
use cairn_core::Engine;
use std::sync::Arc;

impl Ctx<'_> {
    pub fn state_history(self, args: &StackArgs) -> Outcome {
        let (stack, engine, _rt) = setup(args)?;
        let store = engine.store();
        let history = store.history().map_err(|e| e.to_string())?;
        if history.is_empty() {
            return Err(format!(
                "no kept states for stack {} in {}",
                stack.name(),
                store.location()
            ));
        }
        let current = store.read().map_err(|e| e.to_string())?.map(|s| s.serial);
        let _ = writeln!(
            self.out,
            "{:>8}  {:>9}  {:>7}",
            "SERIAL", "RESOURCES", "PENDING"
        );
        for h in history {
            let mark = if Some(h.serial) == current {
                "  (current)"
            } else {
                ""
            };
            let _ = writeln!(
                self.out,
                "{:>8}  {:>9}  {:>7}{mark}",
                h.serial, h.resources, h.pending
            );
        }
        Ok(0)
    }

    pub fn state_rollback(mut self, args: &StackArgs, serial: u64, auto_approve: bool) -> Outcome {
        let (stack, engine, rt) = setup(args)?;
        let store = engine.store().clone();
        let target = store
            .state_at(serial)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!("no kept state at serial {serial}; `cairn state history` lists them")
            })?;
        // What the rolled-back state would make cairn do: planned against a copy of it in
        // memory, so nothing is written before the answer.
        let preview = RemoteStore::new(MemoryBlobs::new()).map_err(|e| e.to_string())?;
        let mut copy = preview.lock("preview").map_err(|e| e.to_string())?;
        copy.adopt(&target).map_err(|e| e.to_string())?;
        copy.unlock().map_err(|e| e.to_string())?;
        let planner = Engine::new(engine.provider().clone(), Arc::new(preview));
        let plan = rt
            .block_on(planner.plan(&stack, &PlanOptions::default()))
            .map_err(|e| e.to_string())?;
        let _ = writeln!(
            self.out,
            "With the state of serial {serial} ({} resources), the next apply would do:\n",
            target.live().count()
        );
        let _ = write!(self.out, "{}", self.text(&plan));
        self.confirm(auto_approve, "roll the state back")?;
        let mut session = store.lock("rollback").map_err(|e| e.to_string())?;
        let done = cairn_core::state::rollback(&mut *session, &target);
        let serial_now = match done {
            Ok(s) => s,
            Err(e) => {
                let _ = session.unlock();
                return Err(e.to_string());
            }
        };
        session.unlock().map_err(|e| e.to_string())?;
        let _ = writeln!(
            self.out,
            "State rolled back to serial {serial}'s resources and outputs, recorded as serial \
             {serial_now}. Pending operations were kept. `cairn plan` shows what the stack needs now."
        );
        Ok(0)
    }

    pub fn state_migrate(self, args: &StackArgs, to: &str) -> Outcome {
        let (stack, engine, rt) = setup(args)?;
        let from = engine.store().clone();
        let destination: Arc<dyn StateStore> = open_state(&rt, to, args, &stack)?;
        let moved = cairn_core::state::migrate(&*from, &*destination).map_err(|e| e.to_string())?;
        let _ = writeln!(
            self.out,
            "Moved stack {}'s state (lineage {}, serial {}, {} resources, checksum {:08x}) \
             from {} to {}; the copy was read back identical, and the source holds nothing now. \
             Use --state {} (or CAIRN_STATE) from now on.",
            stack.name(),
            moved.lineage,
            moved.serial,
            moved.resources,
            moved.checksum,
            redacted(&state_location(args, &stack)),
            destination.location(),
            redacted(to)
        );
        Ok(0)
    }
}
