#!/usr/bin/env python3
"""Generates a C table of an AWS service model from botocore's service-2.json.

The ECR and IAM contracts are botocore's service models; this turns one into
src/<module>/model_gen.c: every shape reachable from the operations' inputs
(type, min/max, pattern as POSIX ERE, enum values, structure members with
'required'), and the operation table (name, input shape, the names of its
error shapes), and the service's errors: every exception shape of the model
(with the protocol's common errors that berth answers) as a C enum and a
table of wire code and HTTP status (error.httpStatusCode; else 500 for a
"fault" such as ServerException, 400 otherwise). src/<module>/model_gen.h
declares them. Run by hand when botocore's model changes; the output is
committed so the build needs no Python:

    python3 scripts/gen_model.py ecr 2015-09-21 src/ecr
    python3 scripts/gen_model.py iam 2010-05-08 src/iam
    python3 scripts/gen_model.py cloudtrail 2013-11-01 src/cloudtrail

With --sed it prints instead the sed -E rules that turn error codes written
as strings at call sites into the enum names (scripts/error_enums.sh).
"""
import gzip
import json
import os
import re
import sys

import botocore


def ere(pattern):
    """Translate the model's (Java/JS) regex to POSIX ERE, anchored."""
    p = pattern
    p = p.replace("(?:", "(")
    if "(?" in p:
        raise ValueError("lookaround: " + pattern)
    out = []
    i = 0
    in_bracket = False
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            n = p[i + 1]
            i += 2
            if n == "d":
                out.append("0-9" if in_bracket else "[0-9]")
            elif n == "w":
                out.append("A-Za-z0-9_" if in_bracket else "[A-Za-z0-9_]")
            elif n == "S":
                if in_bracket:
                    raise ValueError("\\S in bracket: " + pattern)
                out.append("[^[:space:]]")
            elif n == "s":
                out.append("[:space:]" if in_bracket else "[[:space:]]")
            elif n == "u" and re.match(r"[0-9A-Fa-f]{4}", p[i:i + 4]):
                # \uXXXX: the character itself (IAM's patterns stay within
                # Latin-1; bytes 0x80-0xFF then stand for UTF-8 sequences)
                ch = chr(int(p[i:i + 4], 16))
                i += 4
                if ch == "\x00" or ord(ch) > 0xFF or (in_bracket and ch in "]^-\\"):
                    raise ValueError("\\u%s: %s" % (p[i - 4:i], pattern))
                out.append(ch if in_bracket or ch.isalnum() else "\\" + ch if ch in ".+*?()[]{}|^$\\" else ch)
            elif n == "p" and in_bracket and p[i:i + 3] in ("{L}", "{Z}", "{N}"):
                # Unicode classes, approximated bytewise: letters are ASCII
                # letters or any non-ASCII byte, separators the space
                out.append({"{L}": "A-Za-z\x80-\xff", "{Z}": " ", "{N}": "0-9"}[p[i:i + 3]])
                i += 3
            elif in_bracket:
                if n == "-":
                    out.append("\x00DASH")  # moved to the end of the bracket below
                elif n in "/.+*?()|{}^$":
                    out.append(n)
                elif n == "\\":
                    out.append("\\")
                else:
                    raise ValueError("escape \\%s in bracket: %s" % (n, pattern))
            else:
                if n == "/":
                    out.append("/")
                elif n in ".+*?()[]{}|^$\\-":
                    out.append("\\" + n if n != "-" else "-")
                else:
                    raise ValueError("escape \\%s: %s" % (n, pattern))
            continue
        if c == "[" and not in_bracket:
            in_bracket = True
            out.append(c)
        elif c == "]" and in_bracket:
            in_bracket = False
            out.append(c)
        else:
            out.append(c)
        i += 1
    s = "".join(out)
    # POSIX wants a literal '-' last in a bracket; the model also writes
    # '-' right after a range (0-9-_), which Java reads as a literal
    def fix(m):
        body = m.group(1)
        neg = body.startswith("^")
        if neg:
            body = body[1:]
        items, literal_dash, i = [], "\x00DASH" in body, 0
        body = body.replace("\x00DASH", "")
        while i < len(body):
            if body[i] == "[" and body.startswith("[:", i):
                j = body.index(":]", i) + 2
                items.append(body[i:j])
                i = j
            elif i + 2 < len(body) and body[i + 1] == "-" and body[i] != "-":
                items.append(body[i:i + 3])
                i += 3
            elif body[i] == "-":
                literal_dash = True
                i += 1
            else:
                items.append(body[i])
                i += 1
        return "[" + ("^" if neg else "") + "".join(items) + ("-" if literal_dash else "") + "]"
    s = re.sub(r"\[([^\]]*)\]", fix, s)
    s = s.replace("\x00DASH", "-")
    if s.startswith("^") and s.endswith("$") and "|" not in s:
        return s
    if s.startswith("^"):
        s = s[1:]
    if s.endswith("$") and not s.endswith("\\$"):
        s = s[:-1]
    return "^(" + s + ")$"


def cstr(s):
    if all(0x20 <= ord(c) < 0x7F for c in s):
        return json.dumps(s)
    # octal escapes: unlike \x they never swallow the characters that follow
    out = []
    for c in s:
        o = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= o < 0x7F:
            out.append(c)
        elif o <= 0xFF:
            out.append("\\%03o" % o)
        else:
            raise ValueError("character U+%04X in a C string" % o)
    return '"' + "".join(out) + '"'


# Errors of the protocol rather than of one service's model that berth answers
# with (AWS's "common errors"), with the status berth sends them with.
COMMON_ERRORS = {
    "json": [("AccessDeniedException", 400), ("UnknownOperationException", 400),
             ("SerializationException", 400), ("UnsupportedOperationException", 400)],
    "query": [("AccessDenied", 403), ("InvalidAction", 400), ("MissingAction", 400),
              ("MalformedQueryString", 400), ("RequestEntityTooLarge", 413),
              ("ValidationError", 400), ("InvalidClientTokenId", 403)],
}


def load(service, version):
    path = os.path.join(os.path.dirname(botocore.__file__), "data", service, version, "service-2.json.gz")
    return json.load(gzip.open(path))


def snake(code):
    """RepositoryNotFoundException -> REPOSITORY_NOT_FOUND, DuplicateSSHPublicKey -> DUPLICATE_SSH_PUBLIC_KEY."""
    if code.endswith("Exception") and code != "Exception":
        code = code[:-len("Exception")]
    return "_".join(w.upper() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*|[0-9]+", code))


def errors(service, model):
    """[(enum name, wire code, HTTP status)] in the model's order, then the protocol's common ones."""
    out, seen = [], set()
    for name, s in model["shapes"].items():
        if not s.get("exception"):
            continue
        e = s.get("error", {})
        code = e.get("code", name)
        status = e.get("httpStatusCode", 500 if s.get("fault") else 400)
        out.append(("%s_%s" % (service.upper(), snake(code)), code, status))
    for code, status in COMMON_ERRORS[model["metadata"]["protocol"]]:
        if code not in {c for _, c, _ in out}:
            out.append(("%s_%s" % (service.upper(), snake(code)), code, status))
    for enum, _, _ in out:
        if enum in seen:
            raise ValueError("two errors named " + enum)
        seen.add(enum)
    return out


def header(service, version, errs):
    guard = "BERTH_%s_MODEL_GEN_H" % service.upper()
    out = ["/*\n * Generated by scripts/gen_model.py from botocore's %s %s service model\n" % (service, version),
           " * (botocore %s). Do not edit; regenerate.\n *\n" % botocore.__version__,
           " * The %s model's shapes and operations, checked by the validator of\n * model/model.h.\n */\n" % service.upper(),
           "#ifndef %s\n#define %s\n\n" % (guard, guard),
           '#include <stddef.h>\n\n#include "model/model.h"\n\n',
           "extern const struct model_shape %s_shapes[];\n" % service,
           "extern const size_t %s_nshapes;\n" % service,
           "extern const struct model_operation %s_operations[];\n" % service,
           "extern const size_t %s_noperations;\n" % service]
    out.append("\n/* The errors %s answers with: the model's exceptions, then the protocol's\n"
               " * common errors. %s_errors[e] is e's code on the wire and HTTP status. */\n"
               % (service.upper(), service))
    out.append("enum %s_error {\n" % service)
    for enum, code, status in errs:
        out.append("    %s, /* %s, %d */\n" % (enum, code, status))
    out.append("    %s_NERRORS\n};\n\n" % service.upper())
    out.append("extern const struct model_error %s_errors[%s_NERRORS];\n" % (service, service.upper()))
    out.append("\n#endif\n")
    return "".join(out)


def sed_rules(pairs):
    """sed -E rules from code strings at call sites to the enum names: the
    first argument after the call of ecr_fail / iam_fail, and the error
    argument that ecr/layers.c's open_session passes on to ecr_fail."""
    calls = {"ecr": r"(ecr_fail\([a-z]+, |open_session\(.*, )", "iam": r"(iam_fail\([a-z]+, )"}
    out = []
    for service, version in pairs:
        for enum, code, _ in errors(service, load(service, version)):
            out.append('s/%s"%s"/\\1%s/g\n' % (calls[service], code, enum))
    return "".join(out)


def main():
    if sys.argv[1] == "--sed":
        args = sys.argv[2:]
        sys.stdout.write(sed_rules(list(zip(args[0::2], args[1::2]))))
        return
    service, version, outdir = sys.argv[1], sys.argv[2], sys.argv[3]
    model = load(service, version)
    errs = errors(service, model)
    shapes = model["shapes"]
    ops = model["operations"]

    order = []
    index = {}

    def visit(name):
        if name in index:
            return
        index[name] = len(order)
        order.append(name)
        s = shapes[name]
        t = s["type"]
        if t == "structure":
            for m in s.get("members", {}).values():
                visit(m["shape"])
        elif t == "list":
            visit(s["member"]["shape"])
        elif t == "map":
            visit(s["key"]["shape"])
            visit(s["value"]["shape"])

    for op in sorted(ops):
        if "input" in ops[op]:
            visit(ops[op]["input"]["shape"])

    types = {"structure": "SH_STRUCT", "list": "SH_LIST", "map": "SH_MAP", "string": "SH_STRING",
             "integer": "SH_INTEGER", "long": "SH_LONG", "boolean": "SH_BOOLEAN", "blob": "SH_BLOB",
             "timestamp": "SH_TIMESTAMP", "double": "SH_DOUBLE", "float": "SH_DOUBLE"}
    source = []
    w = source.append
    w("/*\n * Generated by scripts/gen_model.py from botocore's %s %s service model\n" % (service, version))
    w(" * (botocore %s). Do not edit; regenerate.\n */\n" % botocore.__version__)
    w('#include "%s/model_gen.h"\n\n' % service)
    for n in order:
        s = shapes[n]
        if s["type"] == "structure" and s.get("members"):
            req = set(s.get("required", []))
            w("static const struct model_member m_%s[] = {\n" % n)
            for mn, m in s["members"].items():
                w("    {%s, %d, %s},\n" % (cstr(mn), index[m["shape"]], "true" if mn in req else "false"))
            w("};\n")
        if "enum" in s:
            w("static const char *const e_%s[] = {%s, NULL};\n" % (n, ", ".join(cstr(e) for e in s["enum"])))
    w("\nconst struct model_shape %s_shapes[] = {\n" % service)
    for n in order:
        s = shapes[n]
        t = s["type"]
        fields = [".name = %s" % cstr(n), ".type = %s" % types[t]]
        if "min" in s:
            fields.append(".has_min = true, .min = %d" % s["min"])
        if "max" in s:
            fields.append(".has_max = true, .max = %dLL" % s["max"])
        if "pattern" in s:
            try:
                fields.append(".pattern = %s" % cstr(ere(s["pattern"])))
                fields.append(".model_pattern = %s" % cstr(s["pattern"]))
            except ValueError as e:
                # not expressible in POSIX ERE (lookahead): left unchecked
                sys.stderr.write("gen_model: %s: pattern not checked: %s\n" % (n, e))
        if "enum" in s:
            fields.append(".enums = e_%s" % n)
        if t == "structure" and s.get("members"):
            fields.append(".members = m_%s, .nmembers = %d" % (n, len(s["members"])))
        if t == "list":
            fields.append(".item = %d" % index[s["member"]["shape"]])
        if t == "map":
            fields.append(".key = %d, .value = %d" % (index[s["key"]["shape"]], index[s["value"]["shape"]]))
        w("    {%s},\n" % ", ".join(fields))
    w("};\n\nconst size_t %s_nshapes = %d;\n\n" % (service, len(order)))
    w("const struct model_operation %s_operations[] = {\n" % service)
    for op in sorted(ops):
        o = ops[op]
        inp = index[o["input"]["shape"]] if "input" in o else -1
        names = [e["shape"] for e in o.get("errors", [])]
        w("    {%s, %d, %s},\n" % (cstr(op), inp, cstr(",".join(names))))
    w("};\n\nconst size_t %s_noperations = %d;\n\n" % (service, len(ops)))
    w("const struct model_error %s_errors[%s_NERRORS] = {\n" % (service, service.upper()))
    for enum, code, status in errs:
        w("    [%s] = {%s, %d},\n" % (enum, cstr(code), status))
    w("};\n")
    with open(os.path.join(outdir, "model_gen.c"), "w") as f:
        f.write("".join(source))
    with open(os.path.join(outdir, "model_gen.h"), "w") as f:
        f.write(header(service, version, errs))


if __name__ == "__main__":
    main()
