fn main() {
    switchboard_web::start();
}
