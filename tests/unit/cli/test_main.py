from krat.cli.main import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("krat version ")


def test_unknown_command_is_one_line_exit_125(capsys):
    assert main(["frobnicate"]) == 125
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "frobnicate" in err


def test_unknown_global_flag(capsys):
    assert main(["--nope", "ps"]) == 125
    assert "--nope" in capsys.readouterr().err


def test_every_verb_maps_to_its_module():
    """module_for's set of keyword verbs agrees with Python's keywords for every verb we have."""
    import keyword

    from krat.cli.main import load_verb, module_for, verbs

    for verb in verbs():
        name = verb.replace("-", "_")
        assert module_for(verb) == (name + "_" if keyword.iskeyword(name) else name), verb
        assert load_verb(module_for(verb)) is not None, verb
