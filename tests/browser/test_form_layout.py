"""Choices in forms read as people expect: each radio button and tick box sits on the same
line as its own label, just before it, and each group of them is named (a fieldset with a
legend, or an ARIA group), so a screen reader announces what the choice is about."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from agencies.models import Membership
from taskforces import services
from tests.conftest import build_world
from tests.factories import AgencyFactory, person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# For every radio button or tick box in <main>: the gap to the start of its label's text and
# how far their middles are apart vertically, and the name of the group it belongs to.
CHOICES = """
() => [...document.querySelectorAll('main input[type=radio], main input[type=checkbox]')]
  .map(input => {
    const label = input.closest('label') || document.querySelector(`label[for="${input.id}"]`);
    const textNode = label && [...label.childNodes]
      .find(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    const box = input.getBoundingClientRect();
    let gap = null, dy = null, text = label ? label.textContent.trim() : '(no label)';
    if (textNode) {
      const range = document.createRange();
      range.selectNodeContents(textNode);
      const t = range.getClientRects()[0];  // the first line, should the label wrap
      gap = Math.round(t.left - box.right);
      dy = Math.round(Math.abs((t.top + t.bottom) / 2 - (box.top + box.bottom) / 2));
    }
    const group = input.closest('fieldset, [role=group], [role=radiogroup]');
    let groupName = null;
    if (group) {
      const legend = group.tagName === 'FIELDSET' && group.querySelector(':scope > legend');
      const labelledBy = group.getAttribute('aria-labelledby');
      groupName = (legend && legend.textContent.trim())
        || (labelledBy && document.getElementById(labelledBy)?.textContent.trim())
        || group.getAttribute('aria-label');
    }
    return {name: input.name, text, gap, dy, groupName,
            nestedLabels: label ? label.querySelectorAll('label').length
              + (label.parentElement && label.parentElement.closest('label') ? 1 : 0) : 0};
  })
"""


def layout_problems(page) -> list[str]:
    """What is wrong with the page's choices, one line per field and kind of problem."""
    problems: dict[str, list[str]] = {}
    by_name: dict[str, list[dict]] = {}
    for choice in page.evaluate(CHOICES):
        by_name.setdefault(choice["name"], []).append(choice)
        if choice["nestedLabels"]:
            problem = "each choice's label is nested inside another label"
        elif choice["gap"] is None:
            problem = "a choice has no label text beside it"
        elif not (0 <= choice["gap"] <= 24 and choice["dy"] <= 8):
            problem = (
                f"the button is not beside its label (“{choice['text'][:30]}”: gap "
                f"{choice['gap']}px, {choice['dy']}px apart vertically)"
            )
        else:
            continue
        key = f"{choice['name']}: {problem.split(' (')[0]}"
        problems.setdefault(key, []).append(f"{choice['name']}: {problem}")
    lines = [found[0] for found in problems.values()]
    for name, group in by_name.items():
        if len(group) > 1 and not group[0]["groupName"]:
            lines.append(f"{name}: a group of {len(group)} choices with no legend or name")
    return lines


def test_choices_sit_beside_their_labels_in_named_groups(open_page, sign_in, shot) -> None:
    w = build_world()
    newcomer = AgencyFactory.create(name="Coastguard Agency", acronym="CGA")
    participation = services.invite_agency(task_force=w.tf, agency=newcomer, by=w.lead_liaison)
    newcomer_liaison = person(newcomer, Membership.Role.LIAISON, email="liaison@cga.example.gov")

    lead = open_page()
    sign_in(lead, w.lead_liaison.email)
    newcomer_page = open_page()
    sign_in(newcomer_page, newcomer_liaison.email)

    found = {}
    for page, step, path in (
        (newcomer_page, "answer-invitation-form", f"/participations/{participation.pk}/respond/"),
        (lead, "post-update-form", f"/task-forces/{w.tf.pk}/updates/new/"),
        (lead, "new-objective-form", f"/task-forces/{w.tf.pk}/objectives/new/"),
        (lead, "new-role-form", f"/task-forces/{w.tf.pk}/roles/new/"),
    ):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        shot(page, step)
        problems = layout_problems(page)
        if problems:
            found[path] = problems
    assert not found, "\n".join(
        f"{path} {problem}" for path, problems in found.items() for problem in problems
    )
