import pytest

from krat.cli.humanize import human_duration, human_size, parse_rfc3339, render
from krat.engine.changes import apply_changes
from krat.engine.images import familiar, split_name
from krat.errors import InvalidArgument


@pytest.mark.parametrize("change, key, value", [
    ('CMD ["sh", "-c", "x"]', "Cmd", ["sh", "-c", "x"]),
    ("CMD echo hi", "Cmd", ["/bin/sh", "-c", "echo hi"]),
    ("ENTRYPOINT [\"/init\"]", "Entrypoint", ["/init"]),
    ("ENV A=1 B=\"x y\"", "Env", ["A=1", "B=x y"]),
    ("ENV LEGACY some value", "Env", ["LEGACY=some value"]),
    ("WORKDIR /srv", "WorkingDir", "/srv"),
    ("USER 1000:1000", "User", "1000:1000"),
    ("EXPOSE 80 443/tcp 53/udp", "ExposedPorts", {"80/tcp": {}, "443/tcp": {}, "53/udp": {}}),
    ('VOLUME ["/data", "/logs"]', "Volumes", {"/data": {}, "/logs": {}}),
    ("LABEL a=b c=d", "Labels", {"a": "b", "c": "d"}),
    ("STOPSIGNAL SIGINT", "StopSignal", "SIGINT"),
    ("onbuild RUN make", "OnBuild", ["RUN make"]),
])
def test_changes(change, key, value):
    assert apply_changes({}, [change])[key] == value


def test_env_change_replaces_a_key():
    assert apply_changes({"Env": ["A=1", "B=2"]}, ["ENV A=3"])["Env"] == ["B=2", "A=3"]


@pytest.mark.parametrize("change", ["RUN make", "FROM x", "CMD", "ENV =x", ""])
def test_bad_changes(change):
    with pytest.raises(InvalidArgument):
        apply_changes({}, [change])


@pytest.mark.parametrize("full, short", [
    ("docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/user/app:1", "user/app:1"),
    ("docker.io/library/a/b:1", "library/a/b:1"),
    ("localhost:5000/x:2", "localhost:5000/x:2"),
    ("docker.io/library/busybox@sha256:" + "a" * 64, "busybox@sha256:" + "a" * 64),
])
def test_familiar(full, short):
    assert familiar(full) == short


def test_split_name_keeps_registry_port():
    assert split_name("localhost:5000/x") == ("localhost:5000/x", "")
    assert split_name("localhost:5000/x:1") == ("localhost:5000/x", "1")


@pytest.mark.parametrize("size, text", [(0, "0B"), (999, "999B"), (4_261_000, "4.26MB"), (1_200_000_000, "1.2GB"),
                                        (123_456, "123kB")])
def test_human_size(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize("seconds, text", [(0.5, "Less than a second"), (1, "1 second"), (30, "30 seconds"),
                                           (90, "About a minute"), (600, "10 minutes"), (3600, "About an hour"),
                                           (7200, "2 hours"), (3 * 86400, "3 days"), (21 * 86400, "3 weeks"),
                                           (90 * 86400, "3 months"), (800 * 86400, "2 years")])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_rfc3339_with_nanoseconds_and_offsets():
    assert parse_rfc3339("2000-01-01T00:00:00Z") == 946684800
    assert parse_rfc3339("2000-01-01T00:00:00.123456789Z") == pytest.approx(946684800.123456789)
    assert parse_rfc3339("2000-01-01T01:00:00+01:00") == 946684800
    assert parse_rfc3339("yesterday") is None


def test_render_template():
    obj = {"ID": "abc", "Config": {"Cmd": ["sh"]}}
    assert render("{{.ID}}\\t{{json .Config.Cmd}}", obj) == 'abc\t["sh"]'
    assert render("{{ .Missing }}", obj) == ""


@pytest.mark.parametrize("text", ["busybox", "busybox:latest", "busybox:1.36", "my_app.v2:Tag-1", "a:b",
                                  "bench/busybox:1", "docker.io/bench/busybox:1", "docker.io/library/busybox",
                                  "library/busybox", "localhost:5000/app", "localhost/app:v1", "ghcr.io/o/r:t",
                                  "registry.example.com:5000/a/b/c", "Example.COM/a:b"])
def test_tag_lookup_name_is_the_parsed_name(text):
    from krat.engine.images import tag_lookup_name
    from krat.oci.reference import parse_reference

    assert tag_lookup_name(text) == str(parse_reference(text))


@pytest.mark.parametrize("text", ["busybox@sha256:" + "a" * 64, "ghcr.io/a/b:c@sha256:" + "b" * 64, "",
                                  "docker.io/busybox", "index.docker.io/library/busybox:1"])
def test_tag_lookup_name_leaves_other_shapes_to_the_parser(text):
    from krat.engine.images import tag_lookup_name

    assert tag_lookup_name(text) is None


@pytest.mark.parametrize("text", ["BusyBox", "a..b", "busybox:", "a:b:c", "-x", "x:" + "t" * 200, "Bench/busybox",
                                  "ghcr.io//x", "a/b:", "a/-b:1", "ghcr.io/a b:1", "localhost:5000/App"])
def test_tag_lookup_name_of_a_bad_reference_is_no_parsed_name(text):
    """A key the fast lookup makes of an invalid reference can never be a stored (parsed) name,
    so the lookup misses and the parser reports the error as before."""
    from krat.engine.images import tag_lookup_name
    from krat.oci.reference import parse_reference

    key = tag_lookup_name(text)
    with pytest.raises(InvalidArgument):
        parse_reference(text)
    with pytest.raises(InvalidArgument):
        parse_reference(key)
