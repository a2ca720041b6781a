"""The run id and release context a CI system's variables give the release client."""

from __future__ import annotations

import pytest

from herald.cli.ci_env import context_from, run_id_from


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GITHUB_RUN_ID": "812", "GITHUB_RUN_ATTEMPT": "2"}, "github-812-2"),
        ({"GITHUB_RUN_ID": "812"}, "github-812-1"),
        ({"CI_PROJECT_ID": "30", "CI_PIPELINE_ID": "4411", "CI_JOB_ID": "9"}, "gitlab-30-4411"),
        ({"CI_JOB_ID": "9"}, "gitlab-job-9"),
        ({"BUILD_TAG": "jenkins-shop-deploy-57"}, "jenkins-shop-deploy-57"),
        ({"CIRCLE_WORKFLOW_ID": "w-1"}, "circleci-w-1"),
        ({"DRONE_REPO": "acme/shop"}, None),  # half the variables: no id
        ({"HERALD_RUN_ID": "mine", "GITHUB_RUN_ID": "812"}, "mine"),
        ({}, None),
    ],
)
def test_run_id(env: dict[str, str], expected: str | None) -> None:
    assert run_id_from(env) == expected


def test_github_context() -> None:
    env = {
        "GITHUB_ACTOR": "alice",
        "GITHUB_SHA": "f95f852b",
        "GITHUB_REF_NAME": "v1.4.2",
        "GITHUB_RUN_ID": "812",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_SERVER_URL": "https://github.example.com",
    }
    assert context_from(env) == {
        "operator": "alice",
        "commit": "f95f852b",
        "ref": "v1.4.2",
        "pipeline_url": "https://github.example.com/acme/shop/actions/runs/812",
    }


def test_gitlab_and_jenkins_context() -> None:
    gitlab = {
        "GITLAB_USER_LOGIN": "bob",
        "CI_COMMIT_SHA": "279484c0",
        "CI_COMMIT_REF_NAME": "main",
        "CI_PIPELINE_URL": "https://gitlab.example.com/acme/shop/-/pipelines/4411",
    }
    assert context_from(gitlab)["pipeline_url"].endswith("/pipelines/4411")
    assert context_from(gitlab)["operator"] == "bob"
    jenkins = {"GIT_COMMIT": "abc", "BUILD_URL": "https://jenkins.example.com/job/shop/57/"}
    assert context_from(jenkins) == {
        "commit": "abc",
        "pipeline_url": "https://jenkins.example.com/job/shop/57/",
    }
    assert context_from({}) == {}
