"""Issue texts written in Chinese (and Japanese, Korean) and pasted screenshots: the Latin words
of a CJK text are read as words of their own and as names, an acronym too (`JSON`), and the
words of an image's URL (`image`, `user`, `png`) are no search terms."""

from __future__ import annotations

import pytest

from prism.engine import Prism
from prism.retrieve.exact import _plain_names
from prism.retrieve.query import parse_query, split_scripts, written_in_cjk
from repos import lexical_prism

SCREENSHOT = "![image](https://user-images.githubusercontent.com/9798724/165199526-ceb7c28a.png)"
ISSUE = "判断字符串是否为JSON对象或JSON数组有问题\n" + SCREENSHOT


def test_latin_words_inside_cjk_text_are_words_of_their_own() -> None:
    assert split_scripts("JSONType注解指定自定义序列化无效") == "JSONType 注解指定自定义序列化无效"
    assert split_scripts("plain English text") == "plain English text"
    query = parse_query("fastjson2 （version 2.0.46）， JSONType注解指定自定义序列化无效[BUG]")
    assert "JSONType" in query.identifiers
    assert query.text.endswith("无效[BUG]")  # the text itself is kept as written


def test_acronyms_name_definitions_only_in_cjk_questions() -> None:
    assert written_in_cjk(ISSUE) and not written_in_cjk("is JSON valid")
    assert _plain_names(parse_query(ISSUE)) == ["JSON"]
    assert _plain_names(parse_query("why is the JSON of a Client wrong")) == ["Client.wrong", "Client"]


def test_attachment_links_give_no_terms() -> None:
    assert parse_query(ISSUE).terms == ("json", "json")
    query = parse_query("Crash on save <img width=\"300\" src=\"https://github.com/user-attachments/assets/1f2e\">"
                        " see https://github.com/o/r/assets/7/ab12cd34 and the `Saver` class")
    assert {"img", "width", "user", "attachments", "assets"}.isdisjoint(query.terms)
    assert {"crash", "save", "saver"} <= set(query.terms)


FILES = {
    "core/src/main/java/com/acme/JSON.java":
        "package com.acme;\n\npublic interface JSON {\n    static boolean isValidObject(String text) {\n"
        "        return text.startsWith(\"{\");\n    }\n\n    static boolean isValidArray(String text) {\n"
        "        return text.startsWith(\"[\");\n    }\n}\n",
    "core/src/main/java/com/acme/JSONWriter.java":
        "package com.acme;\n\npublic class JSONWriter {\n    void write(Object o) {\n    }\n}\n",
    "core/src/main/java/com/acme/vo/Image.java":
        "package com.acme.vo;\n\npublic class Image {\n    String user;\n    String[] images;\n"
        "    String png;\n    public String[] getImages() {\n        return images;\n    }\n}\n",
}


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Prism:
    return lexical_prism(tmp_path_factory.mktemp("cjk"), tmp_path_factory.mktemp("home"), FILES)


def test_a_chinese_issue_naming_a_class_finds_it_not_the_screenshot_words(prism: Prism) -> None:
    hits = prism.search(ISSUE, limit=3, files=True)
    assert hits[0].chunk.chunk.path == "core/src/main/java/com/acme/JSON.java"
