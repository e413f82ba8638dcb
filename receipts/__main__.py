from receipts.cli import main

main()
