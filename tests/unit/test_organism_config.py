"""The organism config: SeedCore's schema, and an exact message for each kind of mistake.

Pure parsing, no Ray: `bootstrap` validates while parsing flags, before connecting. The CLI side
(exit 2, nothing created) is in test_cli_bootstrap.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.bad_configs import BAD_CONFIGS, GOOD, document

from seedcore_cli.errors import EXIT_BAD_INPUT, ConfigError
from seedcore_cli.organism import config


def organ(**fields) -> dict:
    base = {"id": "cognitive_organ_1", "type": "Cognitive", "agent_count": 1}
    base.update(fields)
    return {key: value for key, value in base.items() if value is not ...}




def test_the_packaged_default_has_three_organs_with_one_agent_each():
    cfg = config.load(environ={})
    assert [(o.id, o.type, o.agent_count) for o in cfg.organs] == [
        ("cognitive_organ_1", "Cognitive", 1), ("actuator_organ_1", "Actuator", 1),
        ("utility_organ_1", "Utility", 1)]
    assert cfg.agent_names() == ("cognitive_organ_1_agent_0", "actuator_organ_1_agent_0",
                                 "utility_organ_1_agent_0")
    assert "default" in cfg.source


def test_a_good_file_parses_with_agent_names(tmp_path):
    path = tmp_path / "organism.yaml"
    path.write_text(document(GOOD, "- {id: act, type: Actuator, agent_count: 0}"))
    cfg = config.load(path, environ={})
    first, second = cfg.organs
    agent_options = config.ActorOptions.builtin("agent")
    assert first == config.OrganSpec(
        "cognitive_organ_1", "Cognitive",
        tuple(config.AgentSpec(f"cognitive_organ_1_agent_{i}", "cognitive_organ_1", None, agent_options)
              for i in range(2)),
        "Reasoning", ("general_query", "planning"), config.ActorOptions.builtin("organ"))
    assert first.agent_count == 2 and first.agents[0].specialization is None
    assert first.agent_ids == ("cognitive_organ_1_agent_0", "cognitive_organ_1_agent_1")
    assert second.agent_ids == () and second.description == "" and second.task_types == ()
    assert cfg.source == str(path)


def test_the_flag_beats_the_environment_which_beats_the_default(tmp_path):
    flag, env = tmp_path / "flag.yaml", tmp_path / "env.yaml"
    flag.write_text(document("- {id: from_flag, type: Utility, agent_count: 1}"))
    env.write_text(document("- {id: from_env, type: Utility, agent_count: 1}"))
    environ = {config.CONFIG_ENV: str(env)}
    assert config.load(flag, environ=environ).organs[0].id == "from_flag"
    assert config.load(None, environ=environ).organs[0].id == "from_env"
    assert config.load(None, environ={}).organs[0].id == "cognitive_organ_1"


def test_role_probabilities_follow_seedcore():
    assert config.ROLE_PROBS == {
        "Cognitive": {"E": 0.3, "S": 0.6, "O": 0.1},
        "Actuator": {"E": 0.7, "S": 0.2, "O": 0.1},
        "Utility": {"E": 0.2, "S": 0.3, "O": 0.5},
    }


def test_reserved_names_are_the_singletons():
    from seedcore_cli.organism import singletons

    assert set(config.RESERVED_NAMES) == set(singletons.SINGLETONS)


# Each kind of bad config: (text, the place named, words of the problem). The same table drives
# the CLI test (exit 2, nothing created) in test_cli_bootstrap.py.


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_each_kind_of_bad_config_names_file_place_and_problem(tmp_path, case):
    text, place, problem = BAD_CONFIGS[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ={})
    err = caught.value
    assert err.exit_code == EXIT_BAD_INPUT
    assert err.message.startswith(f"{path}: "), err.message
    assert place in err.message and problem in err.message, err.message


def test_every_problem_is_counted_not_only_the_first(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(document("- {id: a, type: Nope, agent_count: -3}"))
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ={})
    assert "unknown organ type 'Nope'" in caught.value.message
    assert caught.value.hint == "1 more problem(s) in the same file"


def test_a_missing_file_and_a_directory_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.yaml", environ={})
    with pytest.raises(ConfigError, match="is not a file"):
        config.load(tmp_path, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(None, environ={config.CONFIG_ENV: str(tmp_path / "from-env.yaml")})


def test_non_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("seedcore: {organism: {organ_types: [{id: caf\xe9}]}}".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        config.load(path, environ={})


# --- SeedCore's organs[] format ---------------------------------------------------------------

FIXTURE = Path(__file__).parents[1] / "fixtures" / "organism_seedcore_format.yaml"


def test_seedcore_format_names_agents_by_specialization_and_keeps_their_options():
    cfg = config.load(FIXTURE, environ={"SEEDCORE_AGENT_CPU": "0.05"})
    sensing, relay = cfg.organs
    assert (sensing.id, sensing.type, relay.id, relay.type) == (
        "sensing_organ", "Cognitive", "relay_organ", "Utility")  # no type: Utility
    assert [(a.name, a.specialization, a.organ_id) for a in cfg.agents()] == [
        ("sensing_organ_vision_scout_0", "VISION_SCOUT", "sensing_organ"),
        ("sensing_organ_vision_scout_1", "VISION_SCOUT", "sensing_organ"),
        ("sensing_organ_note_taker_0", "note_taker", "sensing_organ"),
        ("relay_organ_relay_0", "Relay", "relay_organ")]
    assert cfg.names() == ("sensing_organ", "relay_organ", *cfg.agent_names())
    assert sensing.agent_ids == cfg.agent_names()[:3] and sensing.agent_count == 3
    scout, _, notes, relay_agent = cfg.agents()
    # defaults.agent (0.03) beats SEEDCORE_AGENT_CPU (0.05); an entry's options beat both.
    assert (scout.options.num_cpus, scout.options.source("num_cpus")) == (0.03, "config defaults.agent")
    assert (notes.options.num_cpus, notes.options.max_restarts, notes.options.max_task_retries) == (0.04, 2, 1)
    assert notes.options.source("max_restarts") == "config organs[0].agents[1].options"
    assert relay_agent.options.placement == "spread" and relay_agent.options.source("placement") == (
        "config organs[1].agent_options")
    assert relay.options.memory == 64 * 2**20 and relay.options.source("memory") == "config organs[1].organ_options"
    options = cfg.options_by_name()
    assert list(options)[:3] == ["miss_tracker", "shared_cache", "mw"] and len(options) == 3 + 2 + 4
    assert options["relay_organ"] == ("organ", relay.options) and options["mw"] == ("singleton", cfg.singleton_options)


def test_seedcore_format_notes_what_it_ignores():
    cfg = config.load(FIXTURE, environ={})
    assert cfg.notes == (
        "seedcore.organism.settings (line 5): SeedCore's global settings, accepted and ignored by seedcore",
        "seedcore.organism.topology (line 29): SeedCore's agent topology, accepted and ignored by seedcore",
        "seedcore.organism.organs[].agents[]: class, behaviors and behavior_config (in 1 entry) describe "
        "SeedCore's own agents; seedcore creates its own Agent actors and ignores them")
    assert config.load(None, environ={}).notes == ()


def test_seedcore_format_at_the_top_level_of_the_file():
    cfg = config.parse("settings: {x: 1}\norgans:\n  - id: solo\n    agents: [{specialization: Worker, count: 2}, "
                       "{specialization: idle, count: 0}]\n  - {id: empty}\n", "top.yaml", environ={})
    assert [organ.id for organ in cfg.organs] == ["solo", "empty"]
    assert cfg.agent_names() == ("solo_worker_0", "solo_worker_1") and cfg.organs[1].agents == ()
    assert cfg.notes == ("settings (line 1): SeedCore's global settings, accepted and ignored by seedcore",)
    with pytest.raises(ConfigError, match=r"^top.yaml: organs\[0\].agents\[0\].count \(line 1\): count must be"):
        config.parse("organs: [{id: a, agents: [{specialization: s, count: x}]}]\n", "top.yaml", environ={})


@pytest.mark.parametrize("text,needle", [
    ("seedcore: {organism: {organ_types: [{id: a, type: Utility, agent_count: " + "1" * 5000 + "}]}}",
     "a value cannot be loaded"),  # Python refuses int() of more than 4300 digits
    ("[" * 10_000, "nested too deeply"),
    ("- " * 2_000 + "x", "nested too deeply"),
])
def test_yaml_python_cannot_load_is_a_config_error(text, needle):
    with pytest.raises(ConfigError, match=needle):
        config.parse(text, "x.yaml")


def test_long_or_multi_line_values_stay_one_short_line():
    text = "seedcore:\n  organism:\n    \"a\\nb\": 1\n    organ_types:\n      - {id: a, type: " + "x" * 5000 + ", agent_count: 1}\n"
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "x.yaml")
    line = caught.value.one_line()
    assert "\n" not in line and len(line) < 300 and "'seedcore.organism.a\\nb'" in line


def test_seedcore_names_add_the_configs_own_names_to_the_globs(tmp_path):
    import fnmatch

    from seedcore_cli.organism.names import SEEDCORE_NAMES

    path = tmp_path / "seedcore.yaml"
    path.write_text("organs:\n  - {id: x, agents: [{specialization: GENERALIST, count: 2}]}\n")
    assert not any(fnmatch.fnmatchcase("x_generalist_0", glob) for glob in SEEDCORE_NAMES)  # why names are added
    names = config.seedcore_names({config.CONFIG_ENV: str(path)})
    assert names[:len(SEEDCORE_NAMES)] == SEEDCORE_NAMES and names[len(SEEDCORE_NAMES):] == (
        "x", "x_generalist_0", "x_generalist_1")
    path.write_text("organs: [")  # a bad config: the globs still apply (the config's own check reports it)
    assert config.seedcore_names({config.CONFIG_ENV: str(path)}) == SEEDCORE_NAMES
