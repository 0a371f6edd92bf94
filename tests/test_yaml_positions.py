"""YAML documents remember where each value is, and interpolate ${VAR} where it is used."""

from supportbot.config.yamldoc import interpolate, parse_yaml


def test_every_key_and_value_has_its_line_and_column():
    doc = parse_yaml("a:\n  b: 1\n  c:\n    - x\n    - y\n", "f.yaml")
    assert doc.data == {"a": {"b": 1, "c": ["x", "y"]}}
    assert doc.where(("a", "b"), key=True) == (2, 3)
    assert doc.where(("a", "b")) == (2, 6)
    assert doc.where(("a", "c", 1)) == (5, 7)


def test_a_missing_path_falls_back_to_its_nearest_parent():
    doc = parse_yaml("a:\n  b: 1\n", "f.yaml")
    assert doc.where(("a", "nothing", 3)) == (2, 3)


def test_syntax_errors_are_problems_with_a_position_not_exceptions():
    doc = parse_yaml("a: [1, 2\nb: 3\n", "f.yaml")
    assert doc.data is None
    [problem] = doc.problems
    assert problem.path == "f.yaml" and problem.line == 2
    assert "YAML syntax error" in problem.message


def test_duplicate_keys_are_reported_where_the_second_one_is():
    doc = parse_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    [problem] = doc.problems
    assert (problem.line, problem.column) == (3, 1)
    assert "duplicate key 'a' (first at line 1" in problem.message


def test_front_matter_lines_can_be_shifted_to_the_enclosing_file():
    doc = parse_yaml("id: x\ntitle: [\n", "f.md", line_offset=1)
    assert doc.problems[0].line >= 3


def test_variables_expand_with_defaults_and_dollar_escapes():
    env = {"HOST": "example.com", "EMPTY": ""}
    assert interpolate("https://${HOST}/v1", env) == ("https://example.com/v1", [])
    assert interpolate("${PORT:-8080}", env) == ("8080", [])
    assert interpolate("${EMPTY:-fallback}", env) == ("fallback", [])
    assert interpolate("${EMPTY}", env) == ("", [])
    assert interpolate("costs $$5 or $5", env) == ("costs $5 or $5", [])


def test_a_missing_variable_without_default_is_an_error_naming_it():
    _text, errors = interpolate("key ${API_TOKEN}", {})
    assert errors == ["environment variable API_TOKEN is not set (set it, or give a default: ${API_TOKEN:-value})"]


def test_interpolation_errors_point_at_the_string_that_uses_the_variable():
    doc = parse_yaml("a: 1\nurl: http://${NOPE}/\n", "f.yaml", env={})
    [problem] = doc.problems
    assert (problem.line, problem.column) == (2, 6)
    assert "NOPE" in problem.message


def test_values_that_are_not_strings_keep_their_yaml_types():
    doc = parse_yaml("n: 3\nf: 0.5\nb: true\nz: null\ns: '3'\n", "f.yaml", env={})
    assert doc.data == {"n": 3, "f": 0.5, "b": True, "z": None, "s": "3"}


def test_text_that_is_not_valid_unicode_is_a_problem_with_a_position():
    doc = parse_yaml("a: 1\nb: x\ud800y\n", "f.yaml")
    assert doc.data is None
    [problem] = doc.problems
    assert (problem.line, problem.column) == (2, 5) and "not valid Unicode" in problem.message
