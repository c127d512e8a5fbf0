"""Organism configs that are wrong in each way a user gets one wrong: name -> (text, where the
message must point, what it must say). Shared by the parser's unit tests and the CLI's tests."""

from __future__ import annotations

import textwrap


def document(*organs: str) -> str:
    body = "".join(textwrap.indent(textwrap.dedent(item).strip("\n"), "      ") + "\n" for item in organs)
    return "seedcore:\n  organism:\n    organ_types:\n" + body


GOOD = """\
- id: cognitive_organ_1
  type: Cognitive
  description: Reasoning
  agent_count: 2
  task_types: [general_query, planning]
"""

BAD_CONFIGS = {
    "yaml-syntax": ("seedcore:\n  organism: [unclosed\n", "YAML syntax error at line", "line"),
    "tab-indent": ("seedcore:\n\torganism: {}\n", "YAML syntax error", "line 2"),
    "empty-file": ("", "document", "empty"),
    "top-not-mapping": ("- a\n- b\n", "document (line 1)", "expected a mapping with seedcore, got a list"),
    "neither-format": ("seedcore:\n  organism: {defaults: {}}\n", "seedcore.organism (line 2)",
                       "missing required key 'organ_types' (or SeedCore's 'organs')"),
    "unknown-top-key": ("seedcore:\n  organism:\n    organ_types: []\nextra: 1\n", "extra (line 4)", "unknown key 'extra'"),
    "missing-organism": ("seedcore: {}\n", "seedcore", "missing required key 'organism'"),
    "missing-organ-types": ("seedcore:\n  organism: {}\n", "seedcore.organism", "missing required key 'organ_types'"),
    "organ-types-not-list": ("seedcore:\n  organism:\n    organ_types: {a: 1}\n", "seedcore.organism.organ_types (line 3)", "expected a list"),
    "no-organs": ("seedcore:\n  organism:\n    organ_types: []\n", "seedcore.organism.organ_types", "empty"),
    "unknown-organ-key": (document(GOOD, "- {id: b, type: Utility, agent_count: 1, agents: 3}"),
                          "seedcore.organism.organ_types[1].agents (line 9)", "unknown key 'agents'"),
    "missing-agent-count": (document("- {id: b, type: Utility}"),
                            "seedcore.organism.organ_types[0] (line 4)", "missing required key 'agent_count'"),
    "missing-id": (document("- {type: Utility, agent_count: 1}"),
                   "seedcore.organism.organ_types[0]", "missing required key 'id'"),
    "duplicate-id": (document(GOOD, "- {id: cognitive_organ_1, type: Utility, agent_count: 1}"),
                     "seedcore.organism.organ_types[1].id (line 9)", "duplicate organ id 'cognitive_organ_1'"),
    "duplicate-key": (document("- id: a\n  id: b\n  type: Utility\n  agent_count: 1"),
                      "line 5", "duplicate key 'id'"),
    "unknown-type": (document(GOOD, "- {id: b, type: Cognitve, agent_count: 1}"),
                     "seedcore.organism.organ_types[1].type", "unknown organ type 'Cognitve'"),
    "negative-count": (document(GOOD, "- {id: b, type: Utility, agent_count: -1}"),
                       "seedcore.organism.organ_types[1].agent_count", "must not be negative"),
    "string-count": (document("- {id: b, type: Utility, agent_count: two}"),
                     "seedcore.organism.organ_types[0].agent_count", "whole number, got a string ('two')"),
    "float-count": (document("- {id: b, type: Utility, agent_count: 1.5}"),
                    "seedcore.organism.organ_types[0].agent_count", "whole number, got a number (1.5)"),
    "bool-count": (document("- {id: b, type: Utility, agent_count: true}"),
                   "seedcore.organism.organ_types[0].agent_count", "whole number, got a boolean"),
    "huge-count": (document("- {id: b, type: Utility, agent_count: 1000000}"),
                   "seedcore.organism.organ_types[0].agent_count", "too large (at most 100"),
    "bad-id": (document("- {id: 'bad id!', type: Utility, agent_count: 1}"),
               "seedcore.organism.organ_types[0].id", "'bad id!' is not a valid actor name"),
    "numeric-id": (document("- {id: 42, type: Utility, agent_count: 1}"),
                   "seedcore.organism.organ_types[0].id", "id must be a string"),
    "reserved-id": (document("- {id: mw, type: Utility, agent_count: 1}"),
                    "seedcore.organism.organ_types[0].id", "reserved for a singleton"),
    "id-clashes-with-agent": (document("- {id: a, type: Utility, agent_count: 1}",
                                       "- {id: a_agent_0, type: Utility, agent_count: 1}"),
                              "seedcore.organism.organ_types[1].id", "clashes with an agent of organ 'a'"),
    "bad-task-types": (document("- {id: b, type: Utility, agent_count: 1, task_types: [ok, '']}"),
                       "seedcore.organism.organ_types[0].task_types[1]", "non-empty string"),
    "long-agent-name": (document(f"- {{id: {'o' * 60}, type: Utility, agent_count: 1}}"),
                        "seedcore.organism.organ_types[0].id", f"agent name '{'o' * 60}_agent_0' is not a valid"),
    # actor options
    "bad-num-cpus": (document("- {id: b, type: Utility, agent_count: 1, agent_options: {num_cpus: lots}}"),
                     "seedcore.organism.organ_types[0].agent_options.num_cpus (line 4)",
                     "num_cpus must be a number >= 0, got a string ('lots')"),
    "tiny-num-cpus": (document("- {id: b, type: Utility, agent_count: 1, organ_options: {num_cpus: 0.00001}}"),
                      "seedcore.organism.organ_types[0].organ_options.num_cpus", "below Ray's smallest amount (0.0001)"),
    "unknown-option": (document("- {id: b, type: Utility, agent_count: 1, organ_options: {cpus: 1}}"),
                       "seedcore.organism.organ_types[0].organ_options.cpus", "unknown key 'cpus' (allowed: num_cpus,"),
    "bad-placement": (document("- {id: b, type: Utility, agent_count: 1, agent_options: {placement: pack}}"),
                      "seedcore.organism.organ_types[0].agent_options.placement",
                      "unknown placement 'pack' (one of: default, spread)"),
    "bad-memory": (document("- {id: b, type: Utility, agent_count: 1, agent_options: {memory: 12XB}}"),
                   "seedcore.organism.organ_types[0].agent_options.memory", "memory '12XB' is not a size"),
    "cpu-in-resources": (document("- {id: b, type: Utility, agent_count: 1, agent_options: {resources: {CPU: 1}}}"),
                         "seedcore.organism.organ_types[0].agent_options.resources.CPU",
                         "'CPU' is not a custom resource: use num_cpus instead"),
    "bad-resource-amount": (document("- {id: b, type: Utility, agent_count: 1, agent_options: {resources: {arm: -1}}}"),
                            "seedcore.organism.organ_types[0].agent_options.resources.arm",
                            "resource 'arm' must be a finite number >= 0, got -1"),
    "restarts-below-minus-one": (document("- {id: b, type: Utility, agent_count: 1, organ_options: {max_restarts: -2}}"),
                                 "seedcore.organism.organ_types[0].organ_options.max_restarts",
                                 "max_restarts must be -1 (without limit), 0 or more, got -2"),
    "options-not-mapping": (document("- {id: b, type: Utility, agent_count: 1, agent_options: [1]}"),
                            "seedcore.organism.organ_types[0].agent_options", "expected a mapping with num_cpus"),
    "unknown-defaults-kind": ("seedcore:\n  organism:\n    defaults: {agents: {num_cpus: 1}}\n    organ_types:\n"
                              "      - {id: b, type: Utility, agent_count: 1}\n",
                              "seedcore.organism.defaults.agents (line 3)", "unknown key 'agents' (allowed: organ, agent, singleton)"),
    "bad-default-value": ("seedcore:\n  organism:\n    defaults: {singleton: {max_task_retries: x}}\n    organ_types:\n"
                          "      - {id: b, type: Utility, agent_count: 1}\n",
                          "seedcore.organism.defaults.singleton.max_task_retries", "must be a whole number"),
    # SeedCore's organs[] format
    "both-formats": ("seedcore:\n  organism:\n    organ_types: [{id: a, type: Utility, agent_count: 1}]\n"
                     "    organs: [{id: b}]\n", "seedcore.organism.organs (line 4)",
                     "give organ_types (seedcore's format) or organs (SeedCore's), not both"),
    "seedcore-missing-specialization": ("organs:\n  - id: a\n    agents: [{count: 1}]\n", "organs[0].agents[0] (line 3)",
                                        "missing required key 'specialization'"),
    "seedcore-same-specialization": ("organs:\n  - id: a\n    agents:\n      - {specialization: x}\n"
                                     "      - {specialization: X, count: 2}\n", "organs[0].agents[1] (line 5)",
                                     "agent name 'a_x_0' is made twice: by organs[0].agents[0] and by organs[0].agents[1]"),
    "seedcore-agent-clashes-across-organs": (
        "organs:\n  - {id: a, agents: [{specialization: b_c}]}\n  - {id: a_b, agents: [{specialization: c}]}\n",
        "organs[1].agents[0] (line 3)", "agent name 'a_b_c_0' is made twice: by organs[0].agents[0] and by organs[1].agents[0]"),
    "seedcore-organ-clashes-with-agent": (
        "organs:\n  - {id: a, agents: [{specialization: b}]}\n  - {id: a_b_0}\n",
        "organs[1].id (line 3)", "organ id 'a_b_0' clashes with an agent of organ 'a' (organs[0].agents[0]; "
                                 "agents are named {organ_id}_{specialization}_{i}, lower-cased)"),
    "seedcore-invalid-agent-name": ("organs:\n  - {id: a, agents: [{specialization: safety.guard}]}\n",
                                    "organs[0].agents[0].specialization (line 2)",
                                    "agent name 'a_safety.guard_0' is not a valid actor name"),
    "seedcore-bad-behaviors": ("organs:\n  - {id: a, agents: [{specialization: s, behaviors: chat}]}\n",
                               "organs[0].agents[0].behaviors", "behaviors must be a list, got a string ('chat')"),
    "seedcore-bad-count": ("organs:\n  - {id: a, agents: [{specialization: s, count: -1}]}\n",
                           "organs[0].agents[0].count", "count must not be negative, got -1"),
    "seedcore-too-many-in-one-organ": (
        "organs:\n  - id: a\n    agents: [{specialization: s, count: 60}, {specialization: t, count: 60}]\n",
        "organs[0].agents (line 3)", "120 agents in one organ is too many (at most 100)"),
    "seedcore-unknown-type": ("organs:\n  - {id: a, type: Sensor}\n", "organs[0].type", "unknown organ type 'Sensor'"),
    "seedcore-entry-options": ("organs:\n  - {id: a, agents: [{specialization: s, options: {num_gpus: -1}}]}\n",
                               "organs[0].agents[0].options.num_gpus", "num_gpus must be a finite number >= 0"),
}
