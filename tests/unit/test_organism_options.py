"""Actor options: the keys, their validation, precedence (config > env > built-in), where each value
came from, and the one place Ray's `.options(...)` keywords are built. Pure: no Ray.

The bootstrap side (Ray's own view of what each actor holds) is in test_cli_bootstrap_options.py.
"""

from __future__ import annotations

import pytest

from seedcore_cli.errors import EXIT_BAD_INPUT, ConfigError
from seedcore_cli.organism import config, options
from seedcore_cli.organism.model import ActorSpec
from seedcore_cli.organism.options import ActorOptions


def seed(organ_fields: str = "", defaults: str = "") -> str:
    text = "seedcore:\n  organism:\n"
    if defaults:
        text += "    defaults:\n" + "".join(f"      {line}\n" for line in defaults.strip().splitlines())
    return text + f"    organ_types:\n      - {{id: org, type: Cognitive, agent_count: 2{organ_fields}}}\n"


def test_built_in_defaults_follow_seedcore():
    cfg = config.parse(seed(), "c.yaml", environ={})
    (organ,) = cfg.organs
    assert (organ.options.num_cpus, organ.options.max_restarts) == (0.01, -1)
    assert {(a.options.num_cpus, a.options.max_restarts) for a in organ.agents} == {(0.02, -1)}
    assert (cfg.singleton_options.num_cpus, cfg.singleton_options.max_restarts) == (0.01, -1)
    for opts in (organ.options, organ.agents[0].options, cfg.singleton_options):
        assert opts.source("num_cpus") == opts.source("max_restarts") == "built-in"
        assert opts.lifetime == "detached" and opts.max_task_retries is None and opts.placement == "default"
    assert organ.agents[0].options == ActorOptions.builtin("agent")


def test_precedence_organ_beats_defaults_beats_env_beats_built_in():
    env = {"SEEDCORE_AGENT_CPU": "0.3", "SEEDCORE_ORGAN_CPU": "0.4", "SEEDCORE_ORGAN_MAX_RESTARTS": "5"}
    # env over built-in
    cfg = config.parse(seed(), "c.yaml", environ=env)
    organ, agent = cfg.organs[0], cfg.organs[0].agents[0]
    assert (agent.options.num_cpus, agent.options.source("num_cpus")) == (0.3, "SEEDCORE_AGENT_CPU")
    assert (organ.options.num_cpus, organ.options.source("num_cpus")) == (0.4, "SEEDCORE_ORGAN_CPU")
    assert (organ.options.max_restarts, organ.options.source("max_restarts")) == (5, "SEEDCORE_ORGAN_MAX_RESTARTS")
    assert (agent.options.max_restarts, agent.options.source("max_restarts")) == (-1, "built-in")
    # the config's defaults over env
    cfg = config.parse(seed(defaults="agent: {num_cpus: 0.25}\norgan: {max_restarts: 2}"), "c.yaml", environ=env)
    organ, agent = cfg.organs[0], cfg.organs[0].agents[0]
    assert (agent.options.num_cpus, agent.options.source("num_cpus")) == (0.25, "config defaults.agent")
    assert (organ.options.max_restarts, organ.options.source("max_restarts")) == (2, "config defaults.organ")
    assert (organ.options.num_cpus, organ.options.source("num_cpus")) == (0.4, "SEEDCORE_ORGAN_CPU")
    # the organ's own options over the defaults
    cfg = config.parse(seed(", agent_options: {num_cpus: 0.5, placement: spread}",
                            defaults="agent: {num_cpus: 0.25, memory: 1KiB}"), "c.yaml", environ=env)
    agent = cfg.organs[0].agents[0]
    assert agent.options.num_cpus == 0.5 and agent.options.memory == 1024
    assert agent.options.source("num_cpus") == agent.options.source("placement") == "config organ_types[0].agent_options"
    assert agent.options.source("memory") == "config defaults.agent"
    assert agent.options.describe_sources() == (
        "num_cpus=0.5 (config organ_types[0].agent_options), memory=1KiB (config defaults.agent), "
        "max_restarts=-1 (built-in), placement=spread (config organ_types[0].agent_options), lifetime=detached (built-in)")


def test_a_layer_replaces_resources_whole():
    cfg = config.parse(seed(", agent_options: {resources: {b: 2}}", defaults="agent: {resources: {a: 1}}"),
                       "c.yaml", environ={})
    assert cfg.organs[0].agents[0].options.resources == (("b", 2),)


def test_ray_options_are_built_in_one_place():
    cfg = config.parse(seed(", agent_options: {num_cpus: 0.5, num_gpus: 1, memory: 256MiB, resources: "
                            "{robot_arm: 1}, placement: spread, max_restarts: 3, max_task_retries: 2}"),
                       "c.yaml", environ={})
    agent = cfg.organs[0].agents[0].options
    assert agent.to_ray_options() == {
        "lifetime": "detached", "num_cpus": 0.5, "num_gpus": 1, "memory": 256 * 2**20,
        "resources": {"robot_arm": 1}, "max_restarts": 3, "max_task_retries": 2, "scheduling_strategy": "SPREAD"}
    assert agent.demand() == {"CPU": 0.5, "GPU": 1, "memory": 256 * 2**20, "robot_arm": 1}
    assert agent.summary() == "cpu=0.5 gpu=1 mem=256MiB robot_arm=1 restarts=3 retries=2 spread"
    assert agent.to_dict() == {"num_cpus": 0.5, "num_gpus": 1, "memory": 268435456, "resources": {"robot_arm": 1},
                               "max_restarts": 3, "max_task_retries": 2, "placement": "spread",
                               "lifetime": "detached"}
    # Ray's defaults where nothing is given: no max_task_retries, no strategy, no GPUs.
    assert ActorOptions.builtin("organ").to_ray_options() == {"lifetime": "detached", "num_cpus": 0.01,
                                                              "max_restarts": -1}
    assert ActorOptions.builtin("agent").summary() == "cpu=0.02 restarts=-1"


def test_a_spec_without_options_gets_the_built_in_ones_of_its_kind():
    spec = ActorSpec("x", "singleton", object)
    assert options.spec_options(spec) == ActorOptions.builtin("singleton")
    own = ActorOptions(num_cpus=1.0)
    assert options.spec_options(ActorSpec("x", "agent", object, options=own)) is own


@pytest.mark.parametrize("text, size", [
    (1024, 1024), ("1024", 1024), ("256MiB", 256 * 2**20), ("256 mib", 256 * 2**20), ("1.5GB", 1_500_000_000),
    ("2Gi", 2 * 2**30), ("10K", 10_000), ("0", 0), ("1.5KiB", 1536)])
def test_memory_takes_bytes_or_a_unit(text, size):
    assert options.parse_memory(text) == size


@pytest.mark.parametrize("text", ["12XB", "MiB", "-1", "0.5", "1.0000001KB", True, [1], "1e3"])
def test_memory_refuses_what_is_not_a_whole_size(text):
    with pytest.raises(ValueError):
        options.parse_memory(text)


# Each bad environment value exits 2 naming the variable (and why).
BAD_ENV = {
    "SEEDCORE_AGENT_CPU": ("two", "SEEDCORE_AGENT_CPU='two' is not usable as num_cpus"),
    "SEEDCORE_ORGAN_CPU": ("-1", "SEEDCORE_ORGAN_CPU='-1' is not usable as num_cpus"),
    "SEEDCORE_ORGAN_MAX_RESTARTS": ("1.5", "SEEDCORE_ORGAN_MAX_RESTARTS='1.5' is not usable as max_restarts"),
    "SEEDCORE_ACTOR_LIFETIME": ("non_detached", "SEEDCORE_ACTOR_LIFETIME='non_detached' is not accepted: "
                                                "seedcore creates SeedCore's actors from a short-lived command"),
}


@pytest.mark.parametrize("variable", sorted(BAD_ENV))
def test_a_bad_environment_value_is_a_config_error_naming_it(variable):
    value, words = BAD_ENV[variable]
    with pytest.raises(ConfigError) as caught:
        config.parse(seed(), "c.yaml", environ={variable: value})
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert caught.value.message.startswith(words), caught.value.message
    assert variable in caught.value.hint


def test_detached_lifetime_from_the_environment_is_accepted_and_remembered():
    cfg = config.parse(seed(), "c.yaml", environ={"SEEDCORE_ACTOR_LIFETIME": "detached", "SEEDCORE_AGENT_CPU": " "})
    agent = cfg.organs[0].agents[0].options
    assert agent.lifetime == "detached" and agent.source("lifetime") == "SEEDCORE_ACTOR_LIFETIME"
    assert agent.source("num_cpus") == "built-in"  # an empty variable is unset


def test_retries_without_restarts_are_refused_naming_both_sources():
    with pytest.raises(ConfigError) as caught:
        config.parse(seed(", organ_options: {max_task_retries: 3}"), "c.yaml",
                     environ={"SEEDCORE_ORGAN_MAX_RESTARTS": "0"})
    assert caught.value.message == (
        "c.yaml: seedcore.organism.organ_types[0]: max_task_retries 3 (from config organ_types[0].organ_options) "
        "needs max_restarts != 0, but max_restarts is 0 (from SEEDCORE_ORGAN_MAX_RESTARTS): Ray retries an "
        "actor's tasks only on a restarted actor")
    # max_restarts 0 alone (or with max_task_retries 0) is fine
    cfg = config.parse(seed(", organ_options: {max_restarts: 0, max_task_retries: 0}"), "c.yaml", environ={})
    assert cfg.organs[0].options.max_restarts == 0
