//! `credit-bureau [ADDR]`: run the stand-in credit bureau (default 127.0.0.1:47125) until killed, with
//! the API key in the environment variable CREDIT_BUREAU_KEY.

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| credit_bureau::DEFAULT_ADDR.into());
    let Ok(key) = std::env::var(credit_bureau::KEY_VARIABLE) else {
        eprintln!("set {} to the API key the bureau accepts", credit_bureau::KEY_VARIABLE);
        std::process::exit(2);
    };
    match credit_bureau::start(&addr, &key) {
        Ok(bureau) => {
            eprintln!("credit bureau listening on http://{}", bureau.addr());
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("credit-bureau: {e}");
            std::process::exit(1);
        }
    }
}
