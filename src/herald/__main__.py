from herald.cli.commands import main

main()
