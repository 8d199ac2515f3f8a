"""The encodings in asp/ over tiny instances (tests/asp/*.lp), solved through pysynth.solve.

Optimal answers are pinned the way clintest's ``Implies(Optimal(), Equals(...))`` pins them:
every optimal answer (all of them are enumerated, distinct on the shown atoms) must equal the
expected one, so a second optimum is a failure too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pysynth.solve as solving
from pysynth.resources import asp_root
from pysynth.solve import Answer, Fact, SolveError, Term, Violation, format_facts, parse_facts, solve

INSTANCES = Path(__file__).parent / "asp"
ENOUGH = 64  # more answers than any instance here has optimal ones


def instance(name: str) -> list[Fact]:
    return parse_facts((INSTANCES / f"{name}.lp").read_text())


def policy(name: str) -> Path:
    return Path(str(asp_root() / "policies" / f"{name}.lp"))


def shown(answer: Answer) -> set[str]:
    """An answer as the atoms clingo shows for it."""
    atoms = {f"step({call})" for call in answer.steps}
    atoms |= {f"merged({call},{step})" for call, step in answer.merged.items()}
    for slot, binding in answer.bindings.items():
        if binding.kind == "output":
            atoms.add(f"bind({slot},output({binding.output}))")
        elif binding.kind == "runtime":
            atoms.add(f"bind({slot},runtime({binding.runtime}))")
        else:
            atoms.add(f"bind({slot},{binding.kind})")
    atoms |= {f"input({value})" for value in answer.inputs}
    atoms |= {f"violation({v.rule},{v.kind}({v.id}))" for v in answer.violations}
    return atoms


def optimal(facts: list[Fact], **options) -> list[set[str]]:
    """Every optimal answer, as shown atoms."""
    outcome = solve(facts, models=ENOUGH, **options)
    assert outcome.satisfiable, outcome.violations
    assert outcome.optimal
    best = outcome.answers[0].cost
    return [shown(answer) for answer in outcome.answers if answer.cost == best]


def assert_optimum(facts: list[Fact], expected: set[str], **options) -> None:
    assert optimal(facts, **options) == [expected]
    # The single-answer mode the CLI uses finds the same one.
    assert shown(solve(facts, **options).answers[0]) == expected


def atoms(text: str) -> set[str]:
    return set(text.split())


# --------------------------------------------------------------------------- rules and objectives


def test_worked_example_reads_the_name_from_the_step_not_a_second_input():
    assert_optimum(
        instance("worked-example"),
        atoms("step(1) step(2) bind(1,input) bind(3,output(1)) bind(4,literal) input(1)"),
    )


def test_worked_example_costs_are_aligned_with_the_objectives():
    outcome = solve(instance("worked-example"))
    assert outcome.objectives == [
        "unhandled_failures", "unwaited_polls", "listed_positions", "uncopied_structures", "inputs", "branches",
        "steps", "loops", "input_references", "later_sources", "stale_literals", "branch_tests", "condition_choice",
        "derived_literals", "loop_choice", "waiter_choice", "log_order",
    ]
    assert outcome.answers[0].cost == [0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert outcome.violations == [] and outcome.answers[0].violations == []
    assert set(outcome.stats) >= {"atoms", "rules", "ground_seconds", "solve_seconds", "models"}
    assert outcome.warnings == []  # the shipped files draw no remark from clingo


def test_created_id_is_read_from_its_producer():
    assert_optimum(
        instance("created-id"),
        atoms("step(1) step(2) bind(1,literal) bind(2,output(1)) bind(3,literal)"),
    )


def test_created_id_cannot_be_a_literal_and_the_conflict_is_explained():
    # Without the producer's output on offer, a literal would do for every objective; the rule
    # forbids it, and the explanation names the rule and the slot.
    facts = [fact for fact in instance("created-id") if fact.predicate != "can_take"]
    outcome = solve(facts)
    assert not outcome.satisfiable and not outcome.optimal and outcome.answers == []
    assert outcome.violations == [Violation("created_from_producer", "slot", 2)]


def test_a_created_id_is_never_read_from_a_later_echo_of_it():
    # CreateSubnet's response echoes the VPC id; a third call offered only that echo conflicts.
    echo = parse_facts("""
        output(2,2,"Subnet.VpcId"). output_value(2,2). output_type(2,"string").
        call(3). call_operation(3,"ec2","CreateRouteTable").
        slot(4,3,"VpcId"). slot_member(4,"VpcId"). slot_value(4,2). slot_type(4,"string").
    """)
    assert_optimum(
        instance("created-id") + echo + parse_facts("can_take(4,1). can_take(4,2)."),
        atoms("step(1) step(2) step(3) bind(1,literal) bind(2,output(1)) bind(3,literal) bind(4,output(1))"),
    )
    outcome = solve(instance("created-id") + echo + parse_facts("can_take(4,2)."))
    assert not outcome.satisfiable
    assert outcome.violations == [Violation("created_from_producer", "slot", 4)]


def test_hidden_value_is_a_secret_input():
    assert_optimum(
        instance("hidden"),
        atoms("step(1) step(2) bind(1,input) bind(2,output(1)) bind(3,secret) input(1) input(2)"),
    )


def test_account_region_and_partition_come_from_the_runtime():
    assert_optimum(
        instance("runtime"),
        atoms(
            "step(1) step(2) bind(1,input) bind(2,runtime(region)) bind(3,input)"
            " bind(4,runtime(partition)) bind(5,runtime(account_id)) input(1) input(3)"
        ),
    )


def test_fragment_of_a_chosen_name_is_not_left_literal():
    # A literal "carol" inside the ARN would cost nothing, but would not follow the UserName input.
    assert_optimum(
        instance("fragment"),
        atoms(
            "step(1) step(2) bind(1,input) bind(2,input) bind(3,runtime(partition))"
            " bind(4,runtime(account_id)) bind(5,output(1)) input(1) input(2)"
        ),
    )


def test_constant_stays_literal_even_when_a_response_carries_it():
    assert_optimum(
        instance("constant"),
        atoms("step(1) step(2) bind(1,literal) bind(2,literal) bind(3,literal) bind(4,literal)"),
    )


def test_retries_are_merged_into_the_step_and_their_outputs_are_not_used():
    # Both retries point at the step (call 1), not at each other.
    assert_optimum(
        instance("retry"),
        atoms("step(1) step(4) merged(2,1) merged(3,1) bind(1,input) bind(3,output(1)) bind(4,literal) input(1)"),
    )


def test_merged_calls_outputs_are_not_offered_even_when_no_objective_prefers_the_first(tmp_path):
    # Without later_sources nothing but the rule keeps AttachUserPolicy from reading a retry's echo.
    objectives = tmp_path / "objectives.lp"
    objectives.write_text("priority(inputs,3). priority(steps,2). priority(input_references,1).\n")
    assert_optimum(
        instance("retry"),
        atoms("step(1) step(4) merged(2,1) merged(3,1) bind(1,input) bind(3,output(1)) bind(4,literal) input(1)"),
        objectives=objectives,
    )


def test_a_retry_left_unmerged_is_a_step_of_its_own():
    facts = instance("retry")
    outcome = solve(facts, models=ENOUGH)
    unmerged = [shown(answer) for answer in outcome.answers if not answer.merged]
    assert atoms("step(1) step(2) step(3) step(4) bind(2,output(1)) bind(5,output(1))") <= unmerged[0]
    steps = outcome.objectives.index("steps")
    assert outcome.answers[0].cost[steps] == 2
    assert min(answer.cost[steps] for answer in outcome.answers if not answer.merged) == 4


def test_equal_values_share_one_input():
    assert_optimum(
        instance("shared-input"),
        atoms("step(1) step(2) bind(1,input) bind(2,input) bind(3,input) bind(4,literal) input(1) input(2)"),
    )


def test_replacing_the_objectives_changes_the_optimum(tmp_path):
    facts = instance("worked-example")
    replacement = INSTANCES / "objectives-no-references.lp"
    # Without input_references, reading bob from the input again is as good as from the step.
    assert sorted(optimal(facts, objectives=replacement), key=sorted) == sorted(
        [
            atoms("step(1) step(2) bind(1,input) bind(3,output(1)) bind(4,literal) input(1)"),
            atoms("step(1) step(2) bind(1,input) bind(3,input) bind(4,literal) input(1)"),
        ],
        key=sorted,
    )
    outcome = solve(facts, objectives=replacement)
    assert outcome.objectives == ["inputs", "later_sources", "steps"]
    assert outcome.answers[0].cost == [1, 0, 2]
    # With no objective at all every legal answer is optimal.
    empty = tmp_path / "none.lp"
    empty.write_text("% nothing is optimized\n")
    assert len(optimal(facts, objectives=empty)) == 2
    assert solve(facts, objectives=empty).objectives == []


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("priority(input,3).", "unknown objective input"),
        ("priority(inputs,3). priority(steps,3).", "share priority 3"),
        ("priority(inputs,3). priority(inputs,2).", "two priorities"),
        ('priority(inputs,"high").', "must be an integer"),
    ],
)
def test_bad_objectives_file_is_refused(tmp_path, text, complaint):
    path = tmp_path / "objectives.lp"
    path.write_text(text)
    with pytest.raises(SolveError, match=complaint):
        solve(instance("worked-example"), objectives=path)


def test_several_answers_are_distinct_optimal_first_then_by_cost():
    # CidrBlock, tag key and tag value may each be a literal or an input: eight legal answers.
    facts = instance("tags")
    outcome = solve(facts, models=10)
    answers = [shown(answer) for answer in outcome.answers]
    assert len(answers) == 8 and len({frozenset(answer) for answer in answers}) == 8
    costs = [answer.cost for answer in outcome.answers]
    assert costs == sorted(costs)
    inputs = outcome.objectives.index("inputs")
    assert [cost[inputs] for cost in costs] == [0, 1, 1, 1, 2, 2, 2, 3]
    assert answers[0] == atoms("step(1) bind(1,literal) bind(2,literal) bind(3,literal) bind(4,literal)")
    assert outcome.optimal
    # Fewer asked for: the best ones.
    fewer = solve(facts, models=2).answers
    assert shown(fewer[0]) == answers[0] and fewer[1].cost == costs[1]


def test_relaxed_explanation_counts_the_fewest_violations():
    # A slot flagged both identifier and constant: one of the two rules must give.
    facts = instance("worked-example") + [Fact("identifier", (4,))]
    outcome = solve(facts)
    assert not outcome.satisfiable
    assert outcome.violations in (
        [Violation("identifier_not_literal", "slot", 4)],
        [Violation("constant_literal", "slot", 4)],
    )
    assert outcome.stats["relaxed"]["optimal"]


# --------------------------------------------------------------------------- policies


def test_tags_as_inputs_leaves_an_untagged_runbook_alone():
    facts = instance("created-id")
    assert optimal(facts, policies=[policy("tags-as-inputs")]) == optimal(facts)


def test_tags_as_inputs_makes_tag_values_inputs():
    facts = instance("tags")
    assert optimal(facts) == [atoms("step(1) bind(1,literal) bind(2,literal) bind(3,literal) bind(4,literal)")]
    # Only the value changes; the key stays literal.
    assert_optimum(
        facts,
        atoms("step(1) bind(1,literal) bind(2,literal) bind(3,literal) bind(4,input) input(4)"),
        policies=[policy("tags-as-inputs")],
    )


def test_names_from_inputs_leaves_created_ids_alone():
    facts = instance("created-id")
    assert optimal(facts, policies=[policy("names-from-inputs")]) == optimal(facts)


def test_names_from_inputs_reads_chosen_names_from_the_input():
    assert_optimum(
        instance("worked-example"),
        atoms("step(1) step(2) bind(1,input) bind(3,input) bind(4,literal) input(1)"),
        policies=[policy("names-from-inputs")],
    )


def test_no_admin_policies_accepts_read_only_access():
    facts = instance("worked-example")
    assert optimal(facts, policies=[policy("no-admin-policies")]) == optimal(facts)


def test_no_admin_policies_refuses_administrator_access_and_names_the_call():
    facts = instance("admin-policy")
    assert solve(facts).satisfiable
    outcome = solve(facts, policies=[policy("no-admin-policies")])
    assert not outcome.satisfiable
    assert outcome.violations == [Violation("no_admin_policies", "call", 2)]


def test_no_open_ingress_accepts_a_private_range():
    facts = instance("ingress-private")
    assert optimal(facts, policies=[policy("no-open-ingress")]) == optimal(facts)


def test_no_open_ingress_refuses_an_open_range_and_names_the_call():
    facts = instance("ingress-open")
    assert_optimum(
        facts,
        atoms(
            "step(1) step(2) bind(1,input) bind(2,literal) bind(3,output(1)) bind(4,literal)"
            " bind(5,literal) bind(6,literal) bind(7,literal) bind(8,literal) input(1)"
        ),
    )
    outcome = solve(facts, policies=[policy("no-open-ingress")])
    assert not outcome.satisfiable
    assert outcome.violations == [Violation("no_open_ingress", "call", 2)]


def test_all_shipped_policies_together_on_a_compliant_runbook():
    every = sorted(Path(str(asp_root() / "policies")).glob("*.lp"))
    assert [path.stem for path in every] == [
        "guarded-deletes", "names-from-inputs", "no-admin-policies", "no-open-ingress", "no-unfiltered-bucket-loops",
        "tags-as-inputs",
    ]
    assert solve(instance("hidden"), policies=every).satisfiable


# --------------------------------------------------------------------------- user files


def test_policy_with_a_syntax_error_gives_a_one_line_solve_error(tmp_path):
    bad = tmp_path / "bad.lp"
    bad.write_text("% a policy\nviolation(mine,slot(X)) :- bind(X,literal)\n\nfoo(.\n")
    with pytest.raises(SolveError) as raised:
        solve(instance("worked-example"), policies=[bad])
    message = str(raised.value)
    assert "\n" not in message
    assert str(bad) in message and "syntax error" in message


def test_policy_with_an_unsafe_rule_gives_a_one_line_solve_error(tmp_path):
    bad = tmp_path / "unsafe.lp"
    bad.write_text("violation(mine,slot(X)) :- not bind(X,literal).\n")
    with pytest.raises(SolveError) as raised:
        solve(instance("worked-example"), policies=[bad])
    message = str(raised.value)
    assert "\n" not in message and "unsafe" in message and str(bad) in message


def test_missing_policy_file_gives_a_solve_error(tmp_path):
    with pytest.raises(SolveError, match="no such file"):
        solve(instance("worked-example"), policies=[tmp_path / "absent.lp"])


def test_policy_with_a_misspelt_predicate_is_reported_as_a_warning(tmp_path):
    typo = tmp_path / "typo.lp"
    typo.write_text('violation(mine,slot(X)) :- slot_membr(X,"Value"), bind(X,literal).\n')
    outcome = solve(instance("worked-example"), policies=[typo])
    assert outcome.satisfiable
    assert any("slot_membr" in warning and "\n" not in warning for warning in outcome.warnings)


def test_violation_detail_must_be_a_slot_a_call_or_a_loop(tmp_path):
    odd = tmp_path / "odd.lp"
    odd.write_text("violation(mine,everything) :- step(1).\n")
    with pytest.raises(SolveError, match="slot\\(X\\), call\\(C\\) or loop\\(L\\)"):
        solve(instance("worked-example"), policies=[odd])


def test_time_limit_without_any_answer_is_a_solve_error(tmp_path):
    # A pigeonhole problem no solver settles in a second: nothing is found in time.
    hard = tmp_path / "pigeonhole.lp"
    hard.write_text(
        "pigeon(1..14). hole(1..13).\n"
        "1 { in(P,H) : hole(H) } 1 :- pigeon(P).\n"
        ":- hole(H), 2 { in(P,H) : pigeon(P) }.\n"
    )
    with pytest.raises(SolveError, match="time limit"):
        solve(instance("worked-example"), policies=[hard], time_limit=0.5)


def test_generous_time_limit_still_proves_the_optimum():
    outcome = solve(instance("worked-example"), time_limit=60)
    assert outcome.optimal and "interrupted" not in outcome.stats


# --------------------------------------------------------------------------- facts in and out


HOSTILE = [
    'say "hi"',
    "back\\slash\\",
    "\\",
    '"',
    "two\nlines\r\n",
    "tab\there",
    '").\n:- a.',
    '"). violation(x,call(1)). p("',
    "% not a comment */ %* nor this",
    "#show. #include \"x.lp\".",
    "ünïcödé ✓ 名前 😀",
    "",
    "\\n is not a newline",
]


def test_format_facts_escapes_hostile_strings_and_round_trips():
    facts = [Fact("value_text", (index + 1, text)) for index, text in enumerate(HOSTILE)]
    facts.append(Fact("runtime", (7, Term("account_id"))))
    facts.append(Fact("bind_like", (Term("output", (3,)), -5, Term("f", ("a\"b", Term("g"))))))
    text = format_facts(facts)
    # One line per fact besides the comment and blank lines: no string spilled over. clingo
    # escapes newlines, quotes and backslashes only; a carriage return or tab stays raw in a string,
    # which clingo reads back unchanged (so lines are split on newlines alone here).
    lines = text.split("\n")
    assert sum(1 for line in lines if line and not line.startswith("%")) == len(facts)
    assert sorted(parse_facts(text), key=repr) == sorted(facts, key=repr)


def test_hostile_strings_reach_the_solver_unchanged(tmp_path):
    # A policy can match a hostile text exactly only if it reached clingo unchanged.
    facts = instance("tags")
    facts = [Fact("value_text", (4, '").\n:- a. "ü')) if fact == Fact("value_text", (4, "red")) else fact
             for fact in facts]
    match = tmp_path / "match.lp"
    match.write_text('violation(hostile,slot(X)) :- slot_value(X,V), value_text(V,"\\").\\n:- a. \\"ü").\n')
    outcome = solve(facts, policies=[match])
    assert outcome.violations == [Violation("hostile", "slot", 4)]


def test_format_facts_sorts_and_groups_by_predicate():
    facts = [Fact("slot", (2, 1, "B")), Fact("call", (2,)), Fact("slot", (1, 1, "A")), Fact("call", (1,)),
             Fact("call", (1,))]
    assert format_facts(facts) == (
        "% call/1\ncall(1).\ncall(2).\n\n% slot/3\nslot(1,1,\"A\").\nslot(2,1,\"B\").\n"
    )


@pytest.mark.parametrize(
    ("fact", "error"),
    [
        (Fact("Call", (1,)), ValueError),
        (Fact("call(1). a", (1,)), ValueError),
        (Fact("call", (Term("x y"),)), ValueError),
        (Fact("call", ("nul\0byte",)), ValueError),
        (Fact("call", (True,)), TypeError),
        (Fact("call", (1.5,)), TypeError),
        (Fact("call", (2**40,)), ValueError),
    ],
)
def test_facts_that_clingo_would_misread_are_refused(fact, error):
    with pytest.raises(error):
        format_facts([fact])
    with pytest.raises(error):
        solve([fact])


def test_parse_facts_refuses_rules():
    with pytest.raises(ValueError, match="not a fact"):
        parse_facts("call(1).\n:- call(1).\n")


@pytest.mark.parametrize("name", ["worked-example", "retry", "ingress-open", "runtime"])
def test_fast_and_public_backend_paths_agree(monkeypatch, name):
    facts = instance(name)
    fast = solve(facts, models=ENOUGH)
    monkeypatch.setattr(solving, "FAST_FACTS", False)
    public = solve(facts, models=ENOUGH)
    assert [shown(a) for a in fast.answers] == [shown(a) for a in public.answers]
    assert [a.cost for a in fast.answers] == [a.cost for a in public.answers]


def test_shipped_files_follow_the_house_style():
    root = Path(str(asp_root()))
    main = (root / "main.lp").read_text().splitlines()
    assert all(line.startswith(("%", "#include")) or not line.strip() for line in main)
    order = ["% --- generate", "% --- define", "% --- test", "% --- optimize"]
    for path in sorted(root.rglob("*.lp")):
        text = path.read_text()
        assert text.startswith("%"), f"{path.name} does not begin with a comment"
        if path.name != "show.lp":
            assert "#show" not in text, path.name
        banners = [line for line in text.splitlines() if line.startswith("% ---")]
        assert banners == sorted(banners, key=order.index), path.name
    defaults = parse_facts((root / "objectives" / "default.lp").read_text())
    assert [fact.args[0].name for fact in defaults] == list(solving.OBJECTIVES)
