// nginx (njs) handler for the benchmarks' "echo" responder: answers a
// users/add request with Velt's success envelope naming every userId it was
// sent, so that velt maps a real result to every row (a fixed body would
// leave all but one batch's IDs without a result).  addUsersLater answers
// the same after a delay, as a Velt across a network would.
function answer(r) {
    var users = JSON.parse(r.requestText).data.users;
    var results = {};
    for (var i = 0; i < users.length; i++) {
        var id = users[i].userId;
        results[id] = {success: true, id: 'bench-' + id, message: 'User added.'};
    }
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify({result: {status: 'success',
        message: 'User(s) processed successfully.', data: results}}));
}

function addUsers(r) {
    answer(r);
}

// The same answer after $bench_delay_ms milliseconds: a Velt across a network.
function addUsersLater(r) {
    setTimeout(function () { answer(r); }, Number(r.variables.bench_delay_ms));
}

export default {addUsers, addUsersLater};
