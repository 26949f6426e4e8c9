"""Host side of the alert-storm tool, in wings by role (docs/architecture.md):

    frames/   the GBCS codec (construct layouts, fast decoder, builders, code catalogue)
    model/    policy vocabulary, the DSP-side SECMP0062 model, incident store, input streams
    compare/  the device-vs-DSP comparison and the cause of every divergence
    board/    boards behind one interface: adapters, protocol client, board files, deploy
    harness/  the nightly: scenarios, driving a board, recovery, metrics, results on disk
    report/   HTML/JUnit/JSON reports, history and trend
    commands/ the `hil` CLI's subcommands (cli.py is the lazy registry)

Imports run one way, left to right in: frames -> model -> compare -> (board) harness ->
report -> commands."""
