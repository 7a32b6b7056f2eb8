from jiaowei.cli.main import main

main()
