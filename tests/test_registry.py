import pytest

from cabench.errors import UserError
from cabench.registry import Registry


def test_register_and_lazy_import():
    reg = Registry("widget")
    reg.register("path", "pathlib:Path")

    @reg.register("double")
    def double(x):
        return 2 * x

    assert reg.get("double")(2) == 4
    from pathlib import Path

    assert reg.get("path") is Path
    assert reg.names() == ["double", "path"]


def test_unknown_name_suggests_close_match():
    reg = Registry("widget")
    reg.register("cagcl", object())
    with pytest.raises(UserError, match="unknown widget 'cagc'.*did you mean 'cagcl'"):
        reg.get("cagc")
