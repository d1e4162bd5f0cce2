"""Build hook for the optional C extension; project metadata lives in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "audit_sdk._cscan",
            sources=["src/audit_sdk/_cscan.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2", "-std=c11", "-Wall"],
            optional=True,
        )
    ]
)
