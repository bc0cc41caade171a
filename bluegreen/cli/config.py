"""bluegreen config: the settings in force and where each comes from."""

from __future__ import annotations

from bluegreen import config
from bluegreen.cli import render
from bluegreen.cli.common import Format, FormatOption, Output, Quiet, Verbose


def show(output: FormatOption = Format.text, verbose: Verbose = 0, quiet: Quiet = False) -> None:
    """Show the settings in force and where each comes from (passwords hidden).

    A flag beats the environment (BLUEGREEN_<KEY>), which beats the config file
    (bluegreen.toml, or [tool.bluegreen] in pyproject.toml), which beats the built-in
    default.
    """
    settings = Output.config or config.load()
    rows = [{"key": "database-url",
             "value": config.redact(settings.database_url) if settings.database_url else None,
             "source": settings.database_url_source or "not set",
             "env": f"{config.URL_ENV}, then ${settings['database-url-env']}",
             "help": "the database the commands connect to"}]
    for value in settings.values.values():
        shown = value.value
        if value.setting.key == "disable":
            shown = list(shown)
        rows.append({"key": value.setting.key, "value": shown, "source": value.source,
                     "env": value.setting.env, "help": value.setting.help})
    render.config_table(str(settings.path) if settings.path else None, rows,
                        output is Format.json)
