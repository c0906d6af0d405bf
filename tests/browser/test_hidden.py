"""What a person may not see stays out of sight, in the browser: a partner's staff member
with no role in a task force never finds it listed, and typing the address of it, of one of
its objectives, or of a TLP:RED update beyond their agency's agreement gives the same
"Not found" page, which names none of them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from coordination.permissions.markings import Marking
from taskforces import services
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HIDDEN_TF = "Operation Kestrel: organised crime on the ports"
HIDDEN_OBJECTIVE = "Map the smuggling routes through Avonmouth"
HIDDEN_UPDATE = "Informant reports shipment on Thursday"


def test_a_partner_staff_member_never_sees_what_they_have_no_role_in(
    open_page, sign_in, shot, problems
) -> None:
    w = build_world()
    # A second task force with the partner agency taking part, in which the partner's
    # staff member holds no role.
    hidden = services.form_task_force(
        name=HIDDEN_TF, mandate="Disrupt the supply chain.", by=w.lead_liaison
    )
    participation = services.invite_agency(task_force=hidden, agency=w.partner, by=w.lead_liaison)
    services.respond_to_invitation(participation=participation, accept=True, by=w.partner_liaison)
    hidden_objective = services.create_objective(
        task_force=hidden,
        title=HIDDEN_OBJECTIVE,
        owner_agency=w.lead,
        contributing_agencies=[w.partner],
        marking=Marking.AMBER,
        by=w.lead_liaison,
    )
    # In the task force they do hold a role in: an update marked above what the NFA–RHS
    # agreement covers (TLP:AMBER).
    red_update = w.updates[Marking.RED]
    red_objective = w.objectives[Marking.RED]
    services.post_update(
        task_force=hidden,
        title=HIDDEN_UPDATE,
        body="Keep this to the command staff.",
        marking=Marking.AMBER,
        by=w.lead_liaison,
    )
    secrets = [HIDDEN_TF, HIDDEN_OBJECTIVE, HIDDEN_UPDATE, red_update.title, red_objective.title]

    page = open_page()
    sign_in(page, w.partner_staff.email)

    # --- the lists never show them ------------------------------------------------------------
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    main = page.get_by_role("main")
    expect(page.get_by_role("region", name="My task forces")).to_contain_text(w.tf.name)
    for secret in secrets:
        expect(main).not_to_contain_text(secret)
    shot(page, "dashboard")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Task forces").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Task forces")
    expect(main).to_contain_text(w.tf.name)
    for secret in secrets:
        expect(main).not_to_contain_text(secret)
    shot(page, "task-force-list")

    # Their own task force lists neither the RED objective nor the RED update.
    main.get_by_role("link", name=w.tf.name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(w.tf.name)
    expect(main).to_contain_text(w.objectives[Marking.AMBER].title)
    for secret in secrets:
        expect(main).not_to_contain_text(secret)
    shot(page, "own-task-force")
    page.get_by_role("navigation", name=w.tf.name).get_by_role("link", name="Updates").click()
    expect(main).to_contain_text(w.updates[Marking.AMBER].title)
    expect(main).not_to_contain_text(red_update.title)
    shot(page, "updates-feed")

    # --- typing their addresses gives "Not found", naming nothing -----------------------------
    # Chromium notes each 404 in the console; these are the ones this journey asks for.
    problems.allow(r"status of 404 \(Not Found\)")
    for step, path in (
        ("hidden-task-force", f"/task-forces/{hidden.pk}/"),
        ("hidden-organisation", f"/task-forces/{hidden.pk}/organisation/"),
        ("hidden-objective", f"/objectives/{hidden_objective.pk}/"),
        ("red-objective", f"/objectives/{red_objective.pk}/"),
        ("red-update", f"/updates/{red_update.pk}/"),
        ("no-such-task-force", "/task-forces/999999/"),
    ):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
        expect(page).to_have_title("Not found · Concord")
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        content = page.content()
        for secret in secrets:
            assert secret not in content, (path, secret)
        shot(page, f"404-{step}")

    # A page that does not exist and a page that is hidden look the same.
    page.goto(f"/task-forces/{hidden.pk}/")
    hidden_main = main.inner_html()
    page.goto("/task-forces/999999/")
    assert main.inner_html() == hidden_main
