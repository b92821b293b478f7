"""A function without the AWS SDK for pandas layer cannot import what the layer provides on the local stack, as
in Lambda, even where another function of the process imported it already."""

import pytest

from local_aws import layers


def test_a_function_without_the_layer_gets_lambdas_error_for_its_libraries_and_nothing_else():
    layers.install()
    import pyarrow  # imported already in this process: the check does not rely on sys.modules

    with layers.without_pandas_layer(), pytest.raises(ModuleNotFoundError, match="No module named 'pyarrow'"):
        import pyarrow.parquet
    with layers.without_pandas_layer(), pytest.raises(ModuleNotFoundError, match="numpy"):
        import numpy  # noqa: F401
    with layers.without_pandas_layer():
        import json  # what Lambda's runtime has is there

        with layers.local_aws_call():  # moto's code, while the function waits for its answer
            __import__("numpy")
    with layers.without_pandas_layer(active=False):
        __import__("pyarrow")
    assert json and pyarrow
    # (an importlib.import_module call goes around the check: none of the functions' code makes one)
