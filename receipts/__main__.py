from receipts.entry import main

main()
