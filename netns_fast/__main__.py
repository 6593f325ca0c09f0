"""``python -m netns_fast``: the netns-fast CLI."""

from netns_fast.cli import main_entry

main_entry()
