// Rating and shelf forms: submit in place when JavaScript is available (accounts issue).
