console.log("duet")
