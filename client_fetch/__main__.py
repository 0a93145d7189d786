from client_fetch.entry import run

run()
