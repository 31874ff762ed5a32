"""The shared progress bar: count, rate, info and ETA go to stderr; stdout stays for results."""

from dst3d.progress import Progress


def test_bar_on_stderr_with_count_rate_and_info(capsys):
    with Progress(True) as bars:
        advance = bars.task("generating", 10, done=4, unit="img")
        advance(2)
        advance(1, "loss 0.123")
    out, err = capsys.readouterr()
    assert out == ""
    assert "generating" in err and "7/10" in err and "img/s" in err and "loss 0.123" in err


def test_disabled_is_silent(capsys):
    with Progress(False) as bars:
        advance = bars.task("x", 3)
        advance(3, "info")
    assert capsys.readouterr() == ("", "")
