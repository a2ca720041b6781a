"""What a CI system's environment tells the release client: the run id and release context.

Pure functions of an environment mapping (no I/O), so the client stays fast and testable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Env = Mapping[str, str]


def _github(env: Env) -> str | None:
    run = env.get("GITHUB_RUN_ID")
    return f"github-{run}-{env.get('GITHUB_RUN_ATTEMPT') or '1'}" if run else None


def _gitlab(env: Env) -> str | None:
    pipeline = env.get("CI_PIPELINE_ID")
    if pipeline:
        return f"gitlab-{env.get('CI_PROJECT_ID', '0')}-{pipeline}"
    job = env.get("CI_JOB_ID")
    return f"gitlab-job-{job}" if job else None


def _simple(prefix: str, *names: str) -> Callable[[Env], str | None]:
    def run_id(env: Env) -> str | None:
        values = [env.get(name) for name in names]
        return f"{prefix}-{'-'.join(v for v in values if v)}" if all(values) else None

    return run_id


# In order: the first system whose variables are set names the run. A run id is the same for
# every step of one pipeline run (and changes with a re-run), so each step's key is stable.
RUN_ID_SOURCES: tuple[tuple[str, Callable[[Env], str | None]], ...] = (
    ("GitHub Actions (GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT)", _github),
    ("GitLab CI (CI_PROJECT_ID, CI_PIPELINE_ID)", _gitlab),
    ("Jenkins (BUILD_TAG)", lambda env: env.get("BUILD_TAG") or None),
    ("CircleCI (CIRCLE_WORKFLOW_ID)", _simple("circleci", "CIRCLE_WORKFLOW_ID")),
    ("Buildkite (BUILDKITE_BUILD_ID)", _simple("buildkite", "BUILDKITE_BUILD_ID")),
    ("Azure Pipelines (BUILD_BUILDID)", _simple("azure", "BUILD_BUILDID")),
    ("Bitbucket (BITBUCKET_BUILD_NUMBER)", _simple("bitbucket", "BITBUCKET_BUILD_NUMBER")),
    (
        "Drone (DRONE_REPO, DRONE_BUILD_NUMBER)",
        _simple("drone", "DRONE_REPO", "DRONE_BUILD_NUMBER"),
    ),
)


def run_id_from(env: Env) -> str | None:
    """The CI run id: HERALD_RUN_ID, else the first CI system's variables found."""
    if env.get("HERALD_RUN_ID"):
        return env["HERALD_RUN_ID"]
    for _, derive in RUN_ID_SOURCES:
        found = derive(env)
        if found:
            return found[:200]
    return None


def _first(env: Env, *names: str) -> str | None:
    return next((env[name] for name in names if env.get(name)), None)


def _pipeline_url(env: Env) -> str | None:
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return _first(env, "CI_PIPELINE_URL", "BUILD_URL", "CIRCLE_BUILD_URL", "BUILDKITE_BUILD_URL")


def context_from(env: Env) -> dict[str, str]:
    """Context defaults (operator, commit, ref, pipeline_url) from the CI's variables."""
    found = {
        "operator": _first(
            env,
            "GITHUB_ACTOR",
            "GITLAB_USER_LOGIN",
            "BUILD_USER_ID",
            "CIRCLE_USERNAME",
            "BUILDKITE_BUILD_CREATOR",
            "BUILD_REQUESTEDFOR",
        ),
        "commit": _first(
            env, "GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT", "CIRCLE_SHA1", "BUILDKITE_COMMIT"
        ),
        "ref": _first(env, "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "GIT_BRANCH", "CIRCLE_BRANCH"),
        "pipeline_url": _pipeline_url(env),
    }
    return {key: value for key, value in found.items() if value}
