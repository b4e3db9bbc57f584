import pytest

from agents.providers.sse import MAX_LINE_BYTES, SSEError, SSEParser

CHUNK = 'data: {"result": "我是百度公司开发的人工智能语言模型", "is_end": false}\n\n'.encode()


def feed_all(parser: SSEParser, *chunks: bytes) -> list[tuple[str, str]]:
    lines = [line for chunk in chunks for line in parser.feed(chunk)]
    return lines + parser.flush()


def test_data_lines_come_back_without_their_prefix():
    assert feed_all(SSEParser(), b'data: {"a": 1}\n\ndata: {"b": 2}\n\n') == [
        ("data", '{"a": 1}'),
        ("data", '{"b": 2}'),
    ]


def test_a_data_line_without_a_space_after_the_colon_is_read_too():
    assert feed_all(SSEParser(), b"data:[DONE]\n\n") == [("data", "[DONE]")]


def test_crlf_line_endings_are_stripped():
    assert feed_all(SSEParser(), b"data: one\r\n\r\ndata: two\r\n\r\n") == [("data", "one"), ("data", "two")]


def test_a_crlf_split_between_two_chunks_yields_no_extra_line():
    parser = SSEParser()
    assert parser.feed(b"data: one\r") == []
    assert parser.feed(b"\n\r\ndata: two\r\n\r\n") == [("data", "one"), ("data", "two")]


def test_a_chinese_character_split_across_chunks_is_decoded_whole():
    cut = CHUNK.index("百".encode()) + 1
    parser = SSEParser()
    assert parser.feed(CHUNK[:cut]) == []
    [(kind, text)] = parser.feed(CHUNK[cut:])
    assert kind == "data" and "我是百度公司" in text


def test_every_way_of_cutting_the_stream_gives_the_same_lines():
    stream = CHUNK + b"event: message\r\ndata: second\r\n\r\n" + CHUNK
    expected = feed_all(SSEParser(), stream)
    for cut in range(1, len(stream)):
        assert feed_all(SSEParser(), stream[:cut], stream[cut:]) == expected
    assert feed_all(SSEParser(), *(stream[i : i + 1] for i in range(len(stream)))) == expected


def test_event_id_retry_and_comment_lines_are_skipped():
    stream = b": keep-alive\nevent: message\nid: 7\nretry: 1000\ndata: x\n\n"
    assert feed_all(SSEParser(), stream) == [("data", "x")]


def test_a_bare_json_line_comes_back_as_other():
    # ERNIE reports errors inside a stream this way, without `data:`.
    line = '{"error_code": 336100, "error_msg": "try again"}'
    assert feed_all(SSEParser(), line.encode() + b"\n") == [("other", line)]


def test_a_last_line_without_a_newline_comes_back_from_flush():
    parser = SSEParser()
    assert parser.feed(b'{"error_code": 18}') == []
    assert parser.flush() == [("other", '{"error_code": 18}')]
    assert parser.flush() == []


def test_a_complete_line_that_is_not_utf8_raises():
    with pytest.raises(SSEError):
        SSEParser().feed(b"data: \xff\xfe\n")


def test_an_endless_line_raises_instead_of_eating_memory():
    parser = SSEParser()
    with pytest.raises(SSEError):
        for _ in range(MAX_LINE_BYTES // 65536 + 2):
            parser.feed(b"x" * 65536)


def test_the_data_lines_of_one_event_are_joined_with_a_newline():
    stream = b'data: {"a":\ndata:  1}\n\ndata: second\r\ndata\r\n\r\n'
    assert feed_all(SSEParser(), stream) == [("data", '{"a":\n 1}'), ("data", "second\n")]


def test_an_event_whose_blank_line_has_not_come_yet_waits_for_it():
    parser = SSEParser()
    assert parser.feed(b"data: one\ndata: two\n") == []
    assert parser.feed(b"\n") == [("data", "one\ntwo")]


def test_a_last_event_without_its_blank_line_comes_back_from_flush():
    parser = SSEParser()
    assert parser.feed(b"data: the last\n") == []
    assert parser.flush() == [("data", "the last")]


def test_a_whole_document_whose_blank_line_is_late_goes_out_at_once():
    parser = SSEParser()
    assert parser.feed(b'data: {"result": "\xe4\xbd\xa0\xe5\xa5\xbd"}\n') == [("data", '{"result": "你好"}')]
    assert parser.feed(b"\n") == []
    assert parser.feed(b"data: [DONE]\n") == [("data", "[DONE]")]


def test_a_server_that_leaves_out_the_blank_lines_still_streams_chunk_by_chunk():
    parser = SSEParser()
    assert parser.feed(b'data: {"a": 1}\ndata: {"b": 2}\n') == [("data", '{"a": 1}'), ("data", '{"b": 2}')]
    assert parser.feed(b'data: {"c":\n') == []  # half a document waits for the rest
    assert parser.feed(b"data:  3}\n\n") == [("data", '{"c":\n 3}')]
