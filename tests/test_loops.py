"""Loops chosen by the solver (issue 9): from small demonstrations, the runbook walks a list
instead of repeating steps, learns the condition that separates the elements acted on, nests two
levels, builds values from the element or the iteration's number, and takes a whole list in one
call where the API allows; policies and objectives files change the outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from loop_logs import bucket_encryption, instances_stopped, names_reused, subnets_tagged, users_in_groups
from pysynth.ingest.select import Selection, ingest
from pysynth.model import LOOP, Condition, IndexRef, InputRef, ItemRef, OutputRef, Template, walk
from pysynth.resources import asp_root
from pysynth.synth import synthesize

LISTED = ["data-x", "logs-a", "logs-b", "web-1", "logs-c"]
ACTED = ["logs-a", "logs-b", "logs-c"]


def synthesized(path: Path, **options):
    ingested = ingest([str(path)], Selection(all_principals=True))
    synthesis = synthesize(ingested.kept, reads=ingested.reads, failed=ingested.failed, **options)
    assert synthesis.outcome.satisfiable and synthesis.outcome.optimal
    return synthesis.runbooks[0]


def policy(name: str) -> Path:
    return Path(str(asp_root() / "policies" / f"{name}.lp"))


def test_a_filtered_listing_becomes_one_loop_over_the_elements_a_condition_keeps(tmp_path):
    runbook = synthesized(bucket_encryption(tmp_path, LISTED, ACTED))
    assert [step.name for step in runbook.steps] == ["ListBuckets", "EachBucket"]
    listing, loop = runbook.steps
    (kept,) = listing.outputs
    assert kept.where == Condition("Buckets[*]", "Name", "prefix", "logs-")
    assert kept.selector == "$.Buckets[?(@.Name =~ /^logs\\-.*/)].Name" and kept.type == "StringList"
    assert loop.action == LOOP and loop.loop.over == OutputRef("ListBuckets", kept.name)
    assert loop.loop.iterations == 3 and len(loop.records) == 3
    (body,) = loop.loop.steps
    assert body.api == "PutBucketEncryption" and body.request["Bucket"] == ItemRef("EachBucket")
    assert runbook.inputs == [] and runbook.solution.objectives["steps"] == 3


def test_three_hundred_calls_make_a_runbook_of_at_most_three_steps(tmp_path):
    names = [f"logs-{number:03d}" for number in range(300)]
    runbook = synthesized(bucket_encryption(tmp_path, ["archive", *names], names))
    assert len(list(walk(runbook.steps))) <= 3
    assert runbook.steps[-1].loop.iterations == 300


def test_cloudtrail_reads_carry_no_list_so_the_loop_walks_an_input_list(tmp_path):
    runbook = synthesized(bucket_encryption(tmp_path, LISTED, ACTED, recorded=False))
    (loop,) = runbook.steps
    assert loop.loop.over == InputRef("Buckets")
    assert runbook.input("Buckets").type == "StringList" and runbook.input("Buckets").default == ACTED


def test_the_no_unfiltered_bucket_loops_policy_turns_a_loop_over_every_bucket_into_an_input_list(tmp_path):
    log = bucket_encryption(tmp_path, ACTED, ACTED)
    assert synthesized(log).steps[-1].loop.over == OutputRef("ListBuckets", "BucketNames")
    guarded = synthesized(log, policies=[policy("no-unfiltered-bucket-loops")])
    assert [step.name for step in guarded.steps] == ["EachBucket"]
    assert guarded.steps[0].loop.over == InputRef("Buckets")


def test_an_objectives_file_that_puts_loops_first_unrolls_them(tmp_path):
    objectives = tmp_path / "no-loops.lp"
    objectives.write_text("priority(loops,3). priority(inputs,2). priority(steps,1).\n")
    runbook = synthesized(bucket_encryption(tmp_path, LISTED, ACTED, recorded=False), objectives=objectives)
    assert [step.api for step in runbook.steps] == ["PutBucketEncryption"] * 3
    assert not any(step.loop for step in runbook.steps)


def test_a_two_call_body_reads_its_own_iterations_output_and_derives_a_tag_from_the_iteration(tmp_path):
    cidrs = ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
    runbook = synthesized(subnets_tagged(tmp_path, cidrs))
    (loop,) = runbook.steps
    # CIDR blocks are plain data: the loop walks them as logged, while the VPC stays an input.
    assert loop.loop.over == cidrs and [item.name for item in runbook.inputs] == ["VpcId"]
    create, tag = loop.loop.steps
    assert create.request["CidrBlock"] == ItemRef(loop.name)
    assert tag.request["Resources"] == [OutputRef(create.name, "SubnetId")]
    assert tag.request["Tags"][0]["Value"] == Template(("app-", IndexRef(loop.name)))


def test_a_tag_made_of_an_input_and_the_iterations_number_follows_both(tmp_path):
    runbook = synthesized(subnets_tagged(tmp_path, ["10.0.1.0/24", "10.0.2.0/24"], name="{vpc}-{number}"))
    (loop,) = runbook.steps
    create, tag = loop.loop.steps
    # The VPC id as the iteration's CreateSubnet echoes it (input_references), then "-" and the number.
    assert tag.request["Tags"][0]["Value"] == Template((OutputRef(create.name, "VpcId"), "-", IndexRef(loop.name)))
    assert create.request["VpcId"] == InputRef("VpcId")


def test_two_nested_levels_walk_two_input_lists(tmp_path):
    runbook = synthesized(users_in_groups(tmp_path, ["alice-a", "bob-b"], ["dev", "ops", "qa"]))
    (outer,) = runbook.steps
    (inner,) = outer.loop.steps
    (add,) = inner.loop.steps
    assert outer.loop.over == InputRef("UserNames") and inner.loop.over == InputRef("GroupNames")
    assert add.request == {"UserName": ItemRef(outer.name), "GroupName": ItemRef(inner.name)}
    assert runbook.input("GroupNames").default == ["dev", "ops", "qa"]
    assert outer.loop.iterations == 2 and inner.loop.iterations == 3


def test_one_call_takes_the_whole_list_where_the_api_allows(tmp_path):
    states = {"i-0aaaaaaaaaaaaaaa1": "running", "i-0aaaaaaaaaaaaaaa2": "stopped",
              "i-0aaaaaaaaaaaaaaa3": "running", "i-0aaaaaaaaaaaaaaa4": "running"}
    runbook = synthesized(instances_stopped(tmp_path, states))
    describe, stop = runbook.steps
    (running,) = describe.outputs
    assert running.where == Condition("Reservations[*].Instances[*]", "State.Name", "equals", "running")
    assert stop.batch == "InstanceIds" and stop.request["InstanceIds"] == OutputRef("DescribeInstances", running.name)
    assert len(stop.records) == 3


@pytest.mark.parametrize("listed, acted, test", [
    (["a-1", "b-2", "a-3"], ["a-1", "a-3"], "prefix"),
    (["x", "y", "z"], ["x", "z"], None),  # nothing separates them but their names: an input list
])
def test_a_condition_is_learnt_only_where_one_separates_the_elements(tmp_path, listed, acted, test):
    runbook = synthesized(bucket_encryption(tmp_path, listed, acted))
    loop = runbook.steps[-1]
    if test is None:
        assert loop.loop.over == InputRef("Buckets")
    else:
        assert runbook.step(loop.loop.over.step).outputs[0].where.test == test


def test_a_name_chosen_once_is_one_input_everywhere_it_appears_inside_other_names(tmp_path):
    runbook = synthesized(names_reused(tmp_path))
    assert [(item.name, item.default) for item in runbook.inputs] == [("Bucket", "acme-data"), ("RoleName", "acme-app")]
    logs, policy_step = runbook.step("CreateBucket2"), runbook.step("CreatePolicy")
    assert logs.request["Bucket"] == Template((InputRef("Bucket"), "-logs"))
    assert policy_step.request["PolicyName"] == Template((OutputRef("CreateRole", "RoleName"), "-data-reader"))


def test_of_two_overlapping_names_inside_a_string_the_solver_cuts_one(tmp_path):
    from loop_logs import s3
    from conftest import write_log
    log = write_log(tmp_path / "overlap.json", [
        s3("CreateBucket", 1, {"Bucket": "my-app"}),
        s3("CreateBucket", 2, {"Bucket": "app-logs"}),
        s3("CreateBucket", 3, {"Bucket": "my-app-logs"}),
    ])
    runbook = synthesized(log)
    # Both names are inputs already; cutting either leaves the other's text literal: the longer
    # name is cut, so the fewest characters stay literal (derived_literals).
    assert runbook.step("CreateBucket3").request["Bucket"] == Template(("my-", InputRef("Bucket2")))
    assert len(runbook.inputs) == 2


def test_for_ssm_which_runs_no_loop_inside_another_the_solver_finds_the_best_runbook_without_nesting(tmp_path):
    log = users_in_groups(tmp_path, ["alice-a", "bob-b"], ["dev", "ops", "qa"])
    ingested = ingest([str(log)], Selection(all_principals=True))
    synthesis = synthesize(ingested.kept, reads=ingested.reads, failed=ingested.failed, target="ssm")
    runbook = synthesis.runbooks[0]
    assert synthesis.outcome.optimal
    nested = [step for step in walk(runbook.steps) if step.loop and any(inner.loop for inner in step.loop.steps)]
    assert nested == [] and any(step.loop for step in runbook.steps)
    # The same demonstration for bash or Python nests the two loops.
    assert synthesized(log).steps[0].loop.steps[0].loop is not None


def test_compare_shows_the_other_conditions_that_keep_the_same_elements(tmp_path):
    import json

    from conftest import run_cli

    log = instances_stopped(tmp_path, {"i-0aaaaaaaaaaaaaaa1": "running", "i-0aaaaaaaaaaaaaaa2": "stopped",
                                       "i-0aaaaaaaaaaaaaaa3": "running"})
    records = json.loads(log.read_text())["Records"]
    for instance in records[0]["responseElements"]["Reservations"][0]["Instances"]:
        if instance["State"]["Name"] == "running":
            instance["Tags"] = [{"Key": "nightly-stop", "Value": "yes"}]
    log.write_text(json.dumps({"Records": records}))
    shown = run_cli("compare", "--all-principals", "-n", "3", str(log))
    assert shown.code == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    # The simplest first: the state's name, then the tag the running ones carry (a number such as
    # the state's code is no condition: JSONPath and JMESPath compare numbers each their own way).
    assert text.index('State.Name is "running"') < text.index('a tag "nightly-stop"')
    assert "State.Code" not in text


def test_a_cleanup_loops_over_the_values_each_earlier_step_created(tmp_path):
    from loop_logs import queues_created_then_deleted

    runbook = synthesized(queues_created_then_deleted(tmp_path))
    creates = [step for step in runbook.steps if step.api == "CreateQueue"]
    (loop,) = [step for step in runbook.steps if step.loop]
    # No input list and no literal: the list is each queue's URL as its CreateQueue step returned it.
    assert loop.loop.over == [OutputRef(step.name, "QueueUrl") for step in creates]
    assert loop.loop.steps[0].request == {"QueueUrl": ItemRef(loop.name)}
    assert not any(item.type == "StringList" for item in runbook.inputs)
