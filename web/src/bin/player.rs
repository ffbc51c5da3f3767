//! The embed player: the same app as the editor, built without the `editor` feature, so that
//! an iframe downloads the simulator, the stage and the run bar and none of the editor.
fn main() {
    switchboard_web::start();
}
