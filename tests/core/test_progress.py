from bluegreen.core.progress import size_text


def test_sizes_read_in_the_unit_that_fits():
    assert size_text(512) == "512 bytes"
    assert size_text(3_940_000) == "3.94 MB"  # a small table is not "0.00 GB"
    assert size_text(740_000) == "740 kB"
    assert size_text(12_345_678_901) == "12.3 GB"
    assert size_text(4_210_000_000) == "4.21 GB"
