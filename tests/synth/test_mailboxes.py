"""No two persons share a mailbox as identity resolution compares them."""

from __future__ import annotations

from collections import Counter

import pytest

from socialcrm.synth.accounts import make_accounts
from socialcrm.synth.identities import mailbox, make_identities
from socialcrm.synth.people import make_persons
from socialcrm.synth.records import make_records
from socialcrm.synth.strings import sarr


def test_mailbox_is_what_resolution_compares() -> None:
    got = mailbox(sarr([" David.Walker+shop@GMail.com", "davidwalker@googlemail.com"]))
    assert got.tolist() == ["davidwalker@gmail.com"] * 2
    assert mailbox(sarr(["d.walker+news@orange.fr"])).tolist() == ["d.walker@orange.fr"]


@pytest.mark.parametrize("hard_names", [False, True])
def test_no_two_persons_share_a_mailbox(hard_names: bool) -> None:
    persons = make_persons(20_000, 1, hard_names=hard_names)
    accounts = make_accounts(persons, 1)
    records = make_records(persons, accounts, 1)
    ids = make_identities(persons, records, accounts, 1)
    email = ids.kind == "email"
    box = mailbox(ids.value[email])
    person = records.person[ids.record[email]]
    owners: dict[str, set[int]] = {}
    for b, p in zip(box.tolist(), person.tolist(), strict=True):
        owners.setdefault(b, set()).add(p)
    assert all(len(p) == 1 for p in owners.values())
    # The deliberate aliases are still there: one mailbox written several ways.
    spellings = Counter(
        b for b, v in set(zip(box.tolist(), ids.value[email].tolist(), strict=True))
    )
    assert max(spellings.values()) >= 3
    assert len(set(mailbox(ids.person_emails).tolist())) == persons.n
