"""python -m chalicelib.admin contracts replay (--contract ID --tenant T | --send-failed [--tenant T] |
--dead-letters [--tenant T]) [--apply] [--by NAME] [--json]

Re-drives the contracts a failed job left behind. DRY RUN BY DEFAULT: it prints, per contract, its
status now, the step it would re-drive (send, archive or void) and why, and changes nothing; with
`--apply` it does it.

Which contracts: `--contract ID --tenant T` one; `--send-failed` every `send_failed` contract (of one
tenant, or of every tenant in the registry); `--dead-letters` those named by the send, archive and
void jobs in the dead-letter queue (`<jobs queue>-dlq`; callbacks are `callbacks replay`'s).

What a re-drive is:
- `send_failed` → back into the send path through the approval gate (chalicelib.lifecycle.replay:
  `sending`, or `pending_approval` when an approval this version lacks is needed), a
  `replay_requested` timeline event naming the operator, then the send job. A contract DocuSign
  refused for its data fails again unless the cause was fixed: the reason is printed first.
- `completed` whose archive job is dead-lettered → the archive job again.
- `voided` whose void job is dead-lettered (the envelope not voided yet) → the void job again.
- a contract still on its way to DocuSign (received, approved, sending, pending_approval) whose send
  job is dead-lettered → the send job again.

Dead letters: with `--apply`, those of a re-driven contract are deleted from the DLQ once its
re-drive succeeded (never before: a failed one leaves them there); those whose job has nothing left
to do (the contract moved on) are deleted as obsolete; one naming a contract that does not exist
stays. Running it twice sends nothing twice: a second run finds the contract out of `send_failed`
and its dead letters gone, and the send job's own once-only guards (its lease, the look-up of an
envelope made before, the `envelope_sent#…` step marker) hold for a job enqueued twice.

Exit status: 0; 1 when a contract was not found or a re-drive failed; 2 for wrong arguments.
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.admin import audit
from chalicelib.admin.callbacks import dlq_name, fresh, scan_dead_letters
from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.aws import enqueue
from chalicelib.lifecycle.replay import REPLAY_EVENT, replay_send, send_replay
from chalicelib.lifecycle.sending import enqueue_send
from chalicelib.store import contracts as store
from chalicelib.store import registry

STEPS = ("send", "archive", "void")
# A send job does something for a contract in these states (chalicelib.jobs.send): sends it, or asks
# its approvers. send_failed is not one: it needs the replay's move first.
_SEND_PATH = frozenset({Status.RECEIVED, Status.APPROVED, Status.SENDING, Status.PENDING_APPROVAL})


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered send, archive or void job, by its SQS message id (stable across receives)."""

    message_id: str
    body: dict[str, Any]

    @property
    def job(self) -> str:
        return str(self.body.get("job"))

    @property
    def contract(self) -> tuple[str, str]:
        return str(self.body["tenant_id"]), str(self.body["contract_id"])

    @property
    def reason(self) -> str:
        return str(self.body.get("dead_letter_reason") or self.body.get("last_error") or "no reason recorded")


@dataclass
class Plan:
    """What a replay does for one contract (and, after --apply, what came of it)."""

    tenant_id: str
    contract_id: str
    status: str | None  # None: no such contract
    step: str | None  # send | archive | void; None: nothing to re-drive
    why: str
    move_to: str | None = None  # the status a send_failed contract moves to before the send job
    redriven: list[DeadLetter] = field(default_factory=list)  # replayed: deleted once the re-drive succeeded
    obsolete: list[DeadLetter] = field(default_factory=list)  # their job has nothing left to do: deleted
    kept: list[DeadLetter] = field(default_factory=list)  # left in the DLQ
    outcome: str | None = None
    failed: bool = False

    @property
    def found(self) -> bool:
        return self.status is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id, "contract_id": self.contract_id, "status": self.status, "step": self.step,
            "move_to": self.move_to, "why": self.why,
            "dead_letters": {"replayed": [d.message_id for d in self.redriven],
                             "obsolete": [d.message_id for d in self.obsolete],
                             "kept": [d.message_id for d in self.kept]},
            "outcome": self.outcome, "ok": self.found and not self.failed,
        }


# --- reading ----------------------------------------------------------------------------------------


def read_dead_letters() -> tuple[list[DeadLetter], int]:
    """The DLQ's send, archive and void jobs that name a contract (the messages stay), and how many
    other messages it holds (callbacks, reminders, unreadable ones)."""
    found: list[DeadLetter] = []
    others = 0

    def look(message_id: str, body: dict[str, Any] | None) -> bool:
        nonlocal others
        if body is not None and body.get("job") in STEPS and body.get("tenant_id") and body.get("contract_id"):
            found.append(DeadLetter(message_id, body))
        else:
            others += 1
        return False

    scan_dead_letters(look, None)
    return found, others


def delete_dead_letters(message_ids: set[str]) -> int:
    """Deletes exactly these DLQ messages (a letter that arrived after the plan was read stays)."""
    if not message_ids:
        return 0
    return scan_dead_letters(lambda message_id, _body: message_id in message_ids, len(message_ids))


def _would_act(letter: DeadLetter, record: StoredContract) -> bool:
    """Whether the letter's job, enqueued again now, would still do something for the contract."""
    status = Status(record.status)
    if letter.job == "send":
        return status in _SEND_PATH and record.envelope_id is None
    if letter.job == "archive":
        return status == Status.COMPLETED and record.envelope_id is not None
    # void: the contract is voided and DocuSign has not said the envelope is (it may be found late)
    return status == Status.VOIDED and record.envelope_status != "voided"


def plan_for(tenant_id: str, contract_id: str, record: StoredContract | None, letters: list[DeadLetter]) -> Plan:
    if record is None:
        return Plan(tenant_id, contract_id, None, None, f"no contract {contract_id!r} for tenant {tenant_id!r}",
                    kept=list(letters))
    status = Status(record.status)
    acting = [d for d in letters if _would_act(d, record)]
    obsolete = [d for d in letters if d not in acting]
    sends = [d for d in letters if d.job == "send"]
    if status == Status.SEND_FAILED:
        gate = send_replay(record)
        cause = (f"its send job dead-lettered ({sends[-1].reason})" if sends
                 else f"last failure: {record.status_reason or 'no reason recorded'}")
        return Plan(tenant_id, contract_id, status.value, "send",
                    f"send_failed, {cause}; moves to {gate.target.value} ({gate.why}), then the send job",
                    move_to=gate.target.value, redriven=sends, obsolete=[d for d in obsolete if d not in sends])
    if acting:
        letter = acting[-1]
        if letter.job == "send":
            does = ("asks the approvers again" if status == Status.PENDING_APPROVAL
                    else f"sends it from {status.value}")
        elif letter.job == "archive":
            does = "archives the signed PDF and makes it active"
        else:
            does = f"voids envelope {record.envelope_id or '(looked up by contract id)'} at DocuSign"
        return Plan(tenant_id, contract_id, status.value, letter.job,
                    f"its {letter.job} job dead-lettered ({letter.reason}); the {letter.job} job {does}",
                    redriven=acting, obsolete=obsolete)
    why = f"nothing to re-drive ({status.value})"
    if obsolete:
        jobs = ", ".join(sorted({d.job for d in obsolete}))
        why += f": the dead-lettered {jobs} job has nothing left to do"
    elif status == Status.COMPLETED:
        why += ": its archive job is not in the dead-letter queue (it may still be retrying)"
    elif status in _SEND_PATH:
        why += ": its send job is not in the dead-letter queue (it may still be running or retrying)"
    return Plan(tenant_id, contract_id, status.value, None, why, obsolete=obsolete)


def _targets(contract: tuple[str, str] | None, send_failed: bool, tenant: str | None,
             letters: dict[tuple[str, str], list[DeadLetter]]) -> Iterable[tuple[str, str, StoredContract | None]]:
    if contract is not None:
        tenant_id, contract_id = contract
        yield tenant_id, contract_id, store.find_contract(tenant_id, contract_id)
    elif send_failed:
        for tenant_id in [tenant] if tenant else registry.tenant_ids():
            for record in store.tenant_contracts(tenant_id, statuses=[Status.SEND_FAILED.value]):
                yield tenant_id, record.contract_id, record
    else:
        for tenant_id, contract_id in sorted(letters):
            if tenant is None or tenant_id == tenant:
                yield tenant_id, contract_id, store.find_contract(tenant_id, contract_id)


def plan(*, contract: tuple[str, str] | None = None, send_failed: bool = False,
         tenant: str | None = None) -> tuple[list[Plan], int]:
    """The plans (nothing changed), and how many other dead letters the DLQ holds."""
    letters, others = read_dead_letters()
    by_contract: dict[tuple[str, str], list[DeadLetter]] = defaultdict(list)
    for letter in letters:
        by_contract[letter.contract].append(letter)
    plans = [plan_for(tenant_id, contract_id, record, by_contract.get((tenant_id, contract_id), []))
             for tenant_id, contract_id, record in _targets(contract, send_failed, tenant, by_contract)]
    return plans, others


# --- doing ------------------------------------------------------------------------------------------


def apply(plans: list[Plan], by: str) -> int:
    """Re-drives each plan; then deletes the dead letters of the re-drives that succeeded and the
    obsolete ones. Returns how many messages were deleted."""
    done: set[str] = set()
    for item in plans:
        if not item.found:
            continue
        if item.step is not None:
            try:
                item.outcome = _redrive(item, by)
            except store.StaleStatus:
                item.failed = True
                now = store.find_contract(item.tenant_id, item.contract_id)
                item.outcome = (f"not re-driven: the contract changed meanwhile (now {now.status if now else 'gone'}); "
                                "run the replay again")
                continue
            except Exception as err:  # noqa: BLE001 - one contract's failure is reported; the others go on
                item.failed = True
                item.outcome = f"not re-driven: {type(err).__name__}: {str(err)[:300]}"
                continue
            done.update(d.message_id for d in item.redriven)
        else:
            item.outcome = "nothing done"
        done.update(d.message_id for d in item.obsolete)
    return delete_dead_letters(done)


def _redrive(item: Plan, by: str) -> str:
    record = store.get_contract(item.tenant_id, item.contract_id)
    if record.status != item.status:  # moved since the plan was read (a listing is not a consistent read)
        raise store.StaleStatus(f"{item.contract_id}: {item.status} when planned, {record.status} now")
    if item.step == "send" and item.move_to is not None:
        moved = replay_send(record, by=by, why=item.why)
        return f"moved to {moved.status}; send job enqueued"
    detail = {"by": by, "step": item.step, "why": item.why,
              "dead_letters": [d.message_id for d in item.redriven]}
    if item.step == "send":
        enqueue_send(record)
    else:
        # The job as first enqueued (a void keeps its reason and from_status), attempt 1 again.
        enqueue(fresh(item.redriven[-1].body))
    store.append_event(record, REPLAY_EVENT, detail)
    return f"{item.step} job enqueued"


# --- CLI --------------------------------------------------------------------------------------------


def _operator() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without USER): still say it was the CLI
        return "unknown"


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("contracts", help="contracts a failed job left behind: replay them")
    commands = parser.add_subparsers(dest="command", required=True)
    again = commands.add_parser(
        "replay", help="re-drive send_failed contracts and dead-lettered send/archive/void jobs (dry run by default)")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--contract", metavar="ID", help="one contract (with --tenant)")
    which.add_argument("--send-failed", action="store_true", help="every send_failed contract")
    which.add_argument("--dead-letters", action="store_true",
                       help="the contracts named by dead-lettered send, archive and void jobs")
    again.add_argument("--tenant", metavar="T", help="the contract's tenant; with the others: only this tenant")
    again.add_argument("--apply", action="store_true", help="do it (without: print the plan, change nothing)")
    again.add_argument("--by", default=None, help="who asked, for the timeline (default: the login name)")
    again.add_argument("--json", action="store_true", help="one JSON object per contract")
    again.set_defaults(run=_cmd_replay)


def _cmd_replay(args: argparse.Namespace) -> int:
    if args.contract is not None and not args.tenant:
        print("error: --contract needs --tenant")
        return 2
    plans, others = plan(contract=(args.tenant, args.contract) if args.contract is not None else None,
                         send_failed=args.send_failed, tenant=args.tenant)
    deleted = apply(plans, args.by or _operator()) if args.apply else 0
    for item in plans if args.apply else []:
        if item.step is not None:
            audit.record(item.tenant_id, "contracts.replay", f"contract {item.contract_id}", {"status": item.status},
                         None, step=item.step, outcome=item.outcome, failed=item.failed)
    if not args.json:
        print("applying:" if args.apply else "dry run: nothing is changed; run again with --apply to do this:")
    for item in plans:
        print(json.dumps(item.as_json(), ensure_ascii=False) if args.json else _line(item, args.apply))
    if not args.json:
        print(_summary(plans, others, deleted, args.apply))
    return 0 if all(p.found and not p.failed for p in plans) else 1


def _line(item: Plan, applied: bool) -> str:
    head = f"{item.tenant_id} {item.contract_id} [{item.status or 'not found'}]"
    if item.step is None:
        text = f"{head}: {item.why}"
    else:
        text = f"{head}: {'re-drive' if applied else 'would re-drive'} {item.step}: {item.why}"
    letters = []
    if item.redriven:
        letters.append(f"{len(item.redriven)} dead letter(s) replayed, deleted once the re-drive succeeded")
    if item.obsolete:
        letters.append(f"{len(item.obsolete)} obsolete dead letter(s) deleted")
    if item.kept:
        letters.append(f"{len(item.kept)} dead letter(s) left in the queue")
    if letters:
        text += f" [{'; '.join(letters)}]"
    if applied and item.outcome:
        text += f" => {item.outcome}"
    return text


def _summary(plans: list[Plan], others: int, deleted: int, applied: bool) -> str:
    steps = sum(p.step is not None for p in plans)
    missing = sum(not p.found for p in plans)
    failed = sum(p.failed for p in plans)
    done = f"{steps - failed} re-driven, {failed} failed" if applied else f"{steps} to re-drive"
    text = f"{len(plans)} contract(s): {done}, {len(plans) - steps - missing} with nothing to do"
    if missing:
        text += f", {missing} not found"
    if applied:
        text += f"; {deleted} message(s) deleted from {dlq_name()}"
    if others:
        text += f"; {others} other message(s) in {dlq_name()} (callbacks and the like: `callbacks list-dlq`)"
    return text
