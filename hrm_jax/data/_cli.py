"""The argument parser every data builder's command line uses: help shows the defaults."""
from __future__ import annotations

import argparse


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" to each option's help, except where there is nothing to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        nothing = action.default is None or action.default is False or action.default == ""
        if nothing or action.required:
            return action.help or ""
        return super()._get_help_string(action)


def parser(description: str) -> argparse.ArgumentParser:
    """An ArgumentParser whose --help lists every option's default."""
    return argparse.ArgumentParser(description=description, formatter_class=DefaultsFormatter)
