import json

from dnslib import QTYPE, DNSRecord

from krat.net.dnsserver import Records, answer


def records(tmp_path, names):
    path = tmp_path / "records.json"
    path.write_text(json.dumps({"names": names, "upstreams": ["10.255.255.53"]}))
    rec = Records(path)
    assert rec.reload()
    return rec


def test_answers_names_case_insensitively(tmp_path):
    rec = records(tmp_path, {"server": ["10.89.0.2"], "web": ["10.89.0.2"]})
    reply = DNSRecord.parse(answer(rec, DNSRecord.question("Server.").pack(), "10.89.0.3"))
    assert [str(rr.rdata) for rr in reply.rr] == ["10.89.0.2"]


def test_aaaa_for_a_known_name_is_empty_not_forwarded(tmp_path):
    rec = records(tmp_path, {"server": ["10.89.0.2"]})
    reply = DNSRecord.parse(answer(rec, DNSRecord.question("server", "AAAA").pack(), "x"))
    assert reply.rr == [] and reply.header.rcode == 0


def test_unknown_names_are_forwarded(tmp_path):
    rec = records(tmp_path, {"server": ["10.89.0.2"]})
    assert answer(rec, DNSRecord.question("example.org").pack(), "x") is None


def test_reverse_lookup(tmp_path):
    rec = records(tmp_path, {"server": ["10.89.0.2"], "abcdef123456": ["10.89.0.2"]})
    reply = DNSRecord.parse(answer(rec, DNSRecord.question("2.0.89.10.in-addr.arpa", "PTR").pack(), "x"))
    assert str(reply.rr[0].rdata) == "server."


def test_no_records_means_exit(tmp_path):
    rec = Records(tmp_path / "gone.json")
    assert not rec.reload()
    (tmp_path / "empty.json").write_text('{"names": {}}')
    assert not Records(tmp_path / "empty.json").reload()
