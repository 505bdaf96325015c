from takedown.lib.ids import MAX_ID, parse_id


def test_it_reads_ascii_digits_within_a_64_bit_key() -> None:
    assert parse_id("12") == 12
    assert parse_id(" 7 ") == 7
    assert parse_id("0") == 0
    assert parse_id(str(MAX_ID)) == MAX_ID


def test_it_refuses_what_int_or_the_database_would_choke_on() -> None:
    for text in ["", "-1", "+1", "1.0", "1e3", "\u00b2", "\u0661\u0662", "\uff11", str(MAX_ID + 1),
                 "9" * 30, "12abc", "0x1f"]:  # fmt: skip
        assert parse_id(text) is None, text
