import logging

import pytest

import xneuro
from xneuro.core.errors import InputError


def test_set_log_level_and_context():
    logger = logging.getLogger("xneuro")
    xneuro.set_log_level("DEBUG")
    assert logger.level == logging.DEBUG
    with xneuro.use_log_level("ERROR"):
        assert logger.level == logging.ERROR
    assert logger.level == logging.DEBUG
    xneuro.set_log_level("WARNING")


def test_bad_level():
    with pytest.raises(InputError, match="level: got 'LOUD'"):
        xneuro.set_log_level("LOUD")
