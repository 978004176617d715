"""helpers.stack.leftovers while the shared stack is deployed (after-destroy is in test_cli.py)."""

from __future__ import annotations

from helpers import stack


def test_leftovers_lists_every_resource_of_the_deployed_stack(lab) -> None:
    names = lab.names

    found = stack.leftovers(lab)

    assert f"table {names.table}" in found
    assert f"queue {names.dlq}" in found
    assert {
        f"pipe {p}" for p in (names.cache_put_pipe, names.topic_publish_pipe, names.cache_delete_pipe)
    } <= set(found)
    assert f"connection {names.connection}" in found
    assert f"secret {names.secret}" in found
    assert f"role {names.role}" in found
    assert not [f for f in found if "could not check" in f]


def test_outputs_name_the_deployed_resources(lab) -> None:
    outputs = stack.outputs(lab)

    assert outputs["TableName"] == lab.names.table
