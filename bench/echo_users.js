// nginx (njs) handler for the benchmarks' "echo" responder: answers a
// users/add (or organizations/documents/add) request with Velt's success
// envelope naming every userId (documentId) it was sent, so that velt maps
// a real result to every row (a fixed body would leave all but one batch's
// IDs without a result).  addUsersLater answers the same after a delay, as
// a Velt across a network would.
function answer(r) {
    var data = JSON.parse(r.requestText).data;
    var items = data.users || data.documents || [];
    var key = data.users ? 'userId' : 'documentId';
    var results = {};
    for (var i = 0; i < items.length; i++) {
        var id = items[i][key];
        results[id] = {success: true, id: 'bench-' + id, message: 'Added.'};
    }
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify({result: {status: 'success',
        message: 'Processed successfully.', data: results}}));
}

function addUsers(r) {
    answer(r);
}

// The same answer after $bench_delay_ms milliseconds: a Velt across a network.
function addUsersLater(r) {
    setTimeout(function () { answer(r); }, Number(r.variables.bench_delay_ms));
}

export default {addUsers, addUsersLater};
